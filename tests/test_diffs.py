"""Diffs of merge requests and runs: `gt mr diff`, `gt runs diff` and the dashboard's merge
request and run pages, read by real git from the rig's clone.

Merge requests are made as polecats leave them (tests/test_refinery.py's `Yard`), with a
Python change the reviewer commented on, a binary file, a Latin-1 file and a large file; runs
are real scripted runs of a real town process. The diff view in a browser is in
tests/test_diff_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gastown.git import diff as gd
from gastown.web import diff_view
from tests.builders import Yard, bead_status, remote, script, until, yard
from tests.builders.diffs import ESC, NEW_CALC, submit
from tests.builders.web import Browser, make_app
from tests.conftest import Gt

__all__ = ["remote", "yard"]  # fixtures this module uses


def set_head(yard: Yard, mr_id: str, head: str) -> None:
    ledger = yard.ledger()
    try:
        with ledger.store.transaction() as tx:
            mr = tx.get_merge_request(mr_id, lock=True)
            assert mr is not None
            mr.head_commit = head
            tx.update_merge_request(mr)
    finally:
        ledger.store.close()


# --- the terminal ---------------------------------------------------------------------------


def test_gt_mr_diff_prints_the_patch_plain_when_piped_and_coloured_when_asked(yard: Yard) -> None:
    mr_id = submit(yard)
    plain = yard.gt.ok("mr", "diff", mr_id).out
    assert ESC not in plain
    assert "diff --git a/calc.py b/calc.py" in plain
    assert "+def sub(a, b):" in plain and '+    """The sum."""' in plain
    assert "Binary files /dev/null and b/logo.png differ" in plain
    assert "+caf\ufffd cr\ufffdme" in plain and "not UTF-8" in plain
    # The reviewer's comment sits under line 7 of the new calc.py.
    lines = plain.splitlines()
    at = lines.index("+    return a - b")
    assert lines[at + 1] == "    ^ reviewer: Check sub's sign <b>please</b>"

    coloured = yard.gt.ok("mr", "diff", mr_id[:7], "--color", "always").out
    assert f"{ESC}32m+def sub(a, b):{ESC}0m" in coloured
    assert f"{ESC}36m@@" in coloured
    never = Gt(yard.path, {"NO_COLOR": "1"}).ok("mr", "diff", mr_id, "--color", "auto").out
    assert ESC not in never


def test_gt_mr_diff_stat_and_json_list_the_files_with_their_counts(yard: Yard) -> None:
    mr_id = submit(yard)
    stat = yard.gt.ok("mr", "diff", mr_id, "--stat").out
    assert re.search(r"calc\.py\s+\+5 -0", stat)
    assert re.search(r"logo\.png\s+binary", stat)
    assert "4 files changed, +" in stat
    found = yard.gt.json("mr", "diff", mr_id)
    files = {f["path"]: f for f in found["files"]}
    assert set(files) == {"big.txt", "calc.py", "logo.png", "notes.txt"}
    assert files["calc.py"] == {
        "path": "calc.py",
        "old_path": None,
        "status": "modified",
        "added": 5,
        "removed": 0,
        "binary": False,
        "not_utf8": False,
        "shown": True,
    }
    assert files["logo.png"]["binary"] and files["logo.png"]["status"] == "added"
    assert files["notes.txt"]["not_utf8"]
    assert found["added"] == sum(f["added"] for f in found["files"])
    assert found["comments"][0]["line"] == 7 and found["kind"] == "mr"


def test_a_landed_merge_request_still_shows_what_it_brought(yard: Yard) -> None:
    _, mr_id = yard.submit("Fix add", {"calc.py": NEW_CALC})
    yard.drain()
    assert yard.mr(mr_id).status == "merged"
    found = yard.gt.json("mr", "diff", mr_id)
    assert [f["path"] for f in found["files"]] == ["calc.py"] and found["added"] == 5


def test_unknown_and_pruned_merge_requests_say_what_is_wrong(yard: Yard) -> None:
    missing = yard.gt("mr", "diff", "mr-nothere")
    assert missing.code == 1 and "There is no merge request 'mr-nothere'." in missing.err
    mr_id = submit(yard, review=False)
    set_head(yard, mr_id, "0123456789" * 4)  # its branch deleted and its commits collected
    pruned = yard.gt("mr", "diff", mr_id)
    assert pruned.code == 1 and pruned.out == ""
    assert "Commit 0123456789 of merge request" in pruned.err
    assert "no longer in the rig's clone" in pruned.err


# --- the dashboard --------------------------------------------------------------------------


@pytest.fixture
def web(yard: Yard) -> Iterator[Browser]:
    with TestClient(make_app(yard.path), follow_redirects=False) as client:
        yield Browser(client, yard.path)


def test_the_merge_request_page_shows_a_highlighted_diff_with_comments_at_their_lines(
    yard: Yard, web: Browser
) -> None:
    mr_id = submit(yard)
    page = web.get(f"/merges/{mr_id}")
    assert page.status_code == 200
    html = page.text
    assert "/static/pygments.css" in html and "/static/diff.css" in html
    assert 'data-view="unified"' in html and 'aria-current="page">Unified' in html
    # Files with counts, highlighted code, the comment under line 7, escaped.
    assert '<a href="#file-2"><code>calc.py</code></a>' in html
    assert '<span class="k">def</span> <span class="nf">sub</span>' in html
    assert (
        '<td class="ln"></td><td class="ln">7</td><td class="code">'
        '<span class="sign" aria-hidden="true">+</span>    <span class="k">return</span>'
    ) in html
    comment = html.index("Check sub&#x27;s sign &lt;b&gt;please&lt;/b&gt;")
    assert html.rindex('<td class="ln">7</td>', 0, comment) > html.rindex("<tr", 0, comment) - 400
    assert "Add a test." in html  # the general comment, above the files
    # Binary named, Latin-1 shown with a note, the large file collapsed.
    assert "Binary file added: its content is not shown." in html
    assert "caf\ufffd cr\ufffdme" in html and "This file is not UTF-8" in html
    big = re.search(r'<details class="diff-file" id="file-1"( open)?>', html)
    assert big is not None and big.group(1) is None and "large change: open to show" in html
    assert re.search(r'<details class="diff-file" id="file-2" open>', html)

    split = web.get(f"/merges/{mr_id}?view=split").text
    assert 'data-view="split"' in split and 'class="diff-table hl split"' in split
    assert '<td class="ln d-add">7</td><td class="code d-add">' in split


def test_a_merge_request_card_shows_a_general_comment_without_a_file(
    yard: Yard, web: Browser
) -> None:
    """The card in the queue and on the merge request's page: the comment on a line names its
    file and line, the comment on none is its words alone (not "None")."""
    mr_id = submit(yard)
    for path in ("/merges", f"/merges/{mr_id}"):
        html = web.get(path).text
        start = html.index(f'aria-label="Merge request {mr_id}"')
        card = html[start : html.index("</article>", start)]
        assert "<li><code>calc.py:7</code> Check sub&#39;s sign" in card
        assert "<li>Add a test.</li>" in card and "None" not in card


def test_the_merge_request_json_twin_and_bad_input_pages(yard: Yard, web: Browser) -> None:
    mr_id = submit(yard, review=False)
    files = web.get(f"/api/merge-requests/{mr_id}/diff").json()["files"]
    assert len(files) == 4
    unknown = web.get("/merges/mr-nothere")
    assert unknown.status_code == 404 and "text/html" in unknown.headers["content-type"]
    assert "There is no merge request &#39;mr-nothere&#39;." in unknown.text
    assert web.get("/api/merge-requests/mr-nothere/diff").status_code == 404
    set_head(yard, mr_id, "0123456789" * 4)
    pruned = web.get(f"/merges/{mr_id}")
    assert pruned.status_code == 200  # the page, with the reason in place of the diff
    assert '<p class="diff-problem" role="status">Commit 0123456789' in pruned.text
    assert web.get("/runs/run-nothere").status_code == 404


def test_the_pygments_style_sheet_is_the_one_the_code_makes() -> None:
    shipped = Path(diff_view.__file__).parent / "static" / "pygments.css"
    text = shipped.read_text()
    assert text.endswith(diff_view.style_sheet()) and ".hl .k {" in text


# --- runs -----------------------------------------------------------------------------------


@pytest.fixture
def town(rig_gt: Gt) -> Iterator[Gt]:
    rig_gt.ok("config", "set", "runtime", "scripted")
    rig_gt.ok("config", "set", "refinery.auto", "false")
    rig_gt.ok("config", "set", "max_dispatch_attempts", "1")
    yield rig_gt
    rig_gt("down")


def test_a_runs_diff_is_its_own_commits_and_a_run_without_any_says_so(
    town: Gt, town_path: Path
) -> None:
    town.ok("up", "-d")
    body = script(
        {"write": "flag.py", "content": "VERBOSE = True\n"},
        {"run": "printf '\\000\\001\\002' > blob.bin"},
        {"run": "git add -A && git commit -qm 'Add the flag'"},
    )
    worked = town.json("sling", "Add a flag", "--body", body)["id"]
    idle = town.json("sling", "Does nothing", "--body", script({"text": "Nothing to do"}))["id"]
    until(lambda: bead_status(town, worked) == "in_review", "the bead in review")
    until(lambda: bead_status(town, idle) == "failed", "the idle bead to fail")
    runs = {r["bead_id"]: r["id"] for r in town.json("runs")}

    found = town.json("runs", "diff", runs[worked])
    assert [(f["path"], f["added"], f["binary"]) for f in found["files"]] == [
        ("blob.bin", 0, True),
        ("flag.py", 1, False),
    ]
    head = (town_path / "logs" / "runs" / runs[worked] / "head").read_text().strip()
    assert found["head"] == head and found["empty"] is None
    assert "+VERBOSE = True" in town.ok("runs", "diff", runs[worked]).out

    none = town.ok("runs", "diff", runs[idle]).out.strip()
    assert none == f"Run {runs[idle]} made no commits on gt/{_polecat(town, runs[idle])}/{idle}."
    missing = town("runs", "diff", "run-nothere")
    assert missing.code == 1 and "There is no run 'run-nothere'." in missing.err

    with TestClient(make_app(town_path), follow_redirects=False) as client:
        web = Browser(client, town_path)
        page = web.get(f"/runs/{runs[worked]}").text
        assert '<span class="n">VERBOSE</span>' in page and "Binary file added" in page
        assert "merge request <code>mr-" in page
        # the agent page links its runs to their pages
        agent = web.get(f"/agents/{_polecat(town, runs[worked])}").text
        assert f'<a href="/runs/{runs[worked]}"' in agent
        empty = web.get(f"/runs/{runs[idle]}").text
        assert f'<p class="diff-empty" role="status">Run {runs[idle]} made no commits' in empty


def _polecat(town: Gt, run_id: str) -> Any:
    return next(r["polecat"] for r in town.json("runs") if r["id"] == run_id)


# --- parsing --------------------------------------------------------------------------------


def test_parsing_keeps_renames_line_numbers_and_a_missing_final_newline() -> None:
    numstat = b"1\t1\t\0old.py\0new.py\0-\t-\tpic.gif\0"
    patch = (
        b"diff --git a/old.py b/new.py\nsimilarity index 80%\nrename from old.py\n"
        b"rename to new.py\n--- a/old.py\n+++ b/new.py\n@@ -3,2 +3,2 @@ def f():\n"
        b" keep\n-x = 1\n+x = 2\n\\ No newline at end of file\n"
        b"diff --git a/pic.gif b/pic.gif\nBinary files a/pic.gif and b/pic.gif differ\n"
    )
    renamed, picture = gd.parse(numstat, patch)
    assert (renamed.path, renamed.old_path, renamed.status) == ("new.py", "old.py", "renamed")
    assert [(ln.kind, ln.old, ln.new, ln.text) for ln in renamed.hunks[0].lines] == [
        (" ", 3, 3, "keep"),
        ("-", 4, None, "x = 1"),
        ("+", None, 4, "x = 2"),
    ]
    assert renamed.no_newline and picture.binary and not picture.hunks
    cut = gd.parse(numstat, patch.split(b"diff --git a/pic")[0] + b"diff --git a/pic", cut=True)
    assert cut[0].shown and not cut[1].shown
