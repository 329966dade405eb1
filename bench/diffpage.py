"""Section 13: a merge request's diff page for a 5,000-line change (goal ≤ 300 ms median).

A town with one rig gets a branch changing 5,000 lines (ten Python files of 400 new lines and
ten of 100 changed ones) and its merge request, with a reviewer's comment on one line. The
page `/merges/<id>` is rendered in process through the ASGI client (gate, route, git,
Pygments, template): its first view (nothing kept drawn), the same page seen again (the drawn
change kept, as a reload or a second person gets it), and side by side drawn anew. Beside
them, to show where the time goes: git reading the diff alone (`gastown.git.diff.read`, two
git processes) and the drawing alone (`diff_view.draw`, highlighting included).

Run alone: `.venv/bin/python bench/diffpage.py [--quick]`.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
from pathlib import Path

from starlette.testclient import TestClient

import timing
from gastown.cli.main import main as gt
from gastown.git import diff as gd
from gastown.model import MergeRequest
from gastown.town import load
from gastown.web import diff_view
from gastown.web.api import create_app

TOKEN = "bench-token"
GOAL_MS = 300.0


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def _module(n: int, lines: int, changed: bool = False) -> str:
    body = [f'"""Module {n}."""', ""]
    for k in range(lines // 4):
        value = f"{k} * 2" if changed else f"{k}"
        body += [f"def f{k}(x: int) -> int:", f"    return x + {value}  # step {k}", "", ""]
    return "\n".join(body[:lines]) + "\n"


def make_town(root: Path, lines: int) -> tuple[Path, str]:
    """A town whose one merge request changes `lines` lines; (town, merge request id)."""
    repo = root / "upstream"
    repo.mkdir()
    _git("init", "-q", "-b", "trunk", cwd=repo)
    for n in range(10):
        (repo / f"old{n}.py").write_text(_module(n, lines // 20))
    _git("add", ".", cwd=repo)
    _git("-c", "user.name=B", "-c", "user.email=b@example.com", "commit", "-qm", "one", cwd=repo)
    town = root / "town"
    sink = io.StringIO()
    assert gt(["init", str(town)], environ={}, cwd=root, out=sink, err=sink) == 0
    assert gt(["rig", "add", "app", str(repo)], environ={}, cwd=town, out=sink, err=sink) == 0
    clone = town / "rigs" / "app"
    base = _git("rev-parse", "HEAD", cwd=clone).strip()
    _git("checkout", "-q", "-b", "gt/bench/gt-1", cwd=clone)
    for n in range(10):
        (clone / f"new{n}.py").write_text(_module(n, lines * 2 // 25))
        (clone / f"old{n}.py").write_text(_module(n, lines // 20, changed=True))
    _git("add", ".", cwd=clone)
    _git("-c", "user.name=B", "-c", "user.email=b@example.com", "commit", "-qm", "two", cwd=clone)
    head = _git("rev-parse", "HEAD", cwd=clone).strip()
    _git("checkout", "-q", "trunk", cwd=clone)
    store = load(town).open_store()
    try:
        with store.transaction() as tx:
            tx.insert_merge_request(
                MergeRequest(
                    id="mr-bench001",
                    bead_id=None,
                    run_id=None,
                    rig="app",
                    branch="gt/bench/gt-1",
                    target="trunk",
                    base_commit=base,
                    head_commit=head,
                    created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-01T00:00:00Z",
                    review={
                        "summary": "",
                        "comments": [{"path": "new0.py", "line": 2, "body": "?"}],
                    },
                )
            )
    finally:
        store.close()
    return town, "mr-bench001"


def bench(root: Path, lines: int, runs: int) -> list[str]:
    """Print the medians; return the line judging the goal."""
    town, mr_id = make_town(Path(tempfile.mkdtemp(dir=root)), lines)
    clone = town / "rigs" / "app"
    app = create_app(load(town), TOKEN, "bench", environ={})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    sizes: dict[str, int] = {}
    with TestClient(app) as client:
        listed = client.get(f"/api/merge-requests/{mr_id}/diff", headers=headers).json()
        base, head = listed["base"], listed["head"]
        changed = listed["added"] + listed["removed"]

        def page(label: str, path: str) -> None:
            answer = client.get(path, headers=headers)
            answer.raise_for_status()
            sizes[label] = len(answer.content)

        read = gd.read(clone, base, head)

        def first(label: str, path: str) -> None:
            diff_view.forget()
            page(label, path)

        fns = {
            "diff page, first view": lambda: first("diff page, first view", f"/merges/{mr_id}"),
            "diff page, seen again": lambda: page("diff page, seen again", f"/merges/{mr_id}"),
            "side by side, drawn anew": lambda: page(
                "side by side, drawn anew", f"/merges/{mr_id}?view=split"
            ),
            "git reading the diff alone": lambda: gd.read(clone, base, head),
            "drawing it alone (Pygments)": lambda: diff_view.draw(read.files, [], "unified"),
        }
        print(
            f"\n13. A merge request's diff page, {changed} changed lines in "
            f"{len(listed['files'])} files: medians of {runs} alternating renders in process"
        )
        times = timing.alternating(fns, runs)
    width = max(len(label) for label in times)
    for label, t in times.items():
        size = f"  {sizes[label] / 1000:7.1f} kB" if label in sizes else ""
        print(f"  {label:{width}}  {timing.median_ms(t):8.1f} ms{size}")
    floor = timing.median_ms(times["git reading the diff alone"])
    judged = []
    for label in ("diff page, first view", "diff page, seen again"):
        ms = timing.median_ms(times[label])
        judged.append(
            f"{label} of a {changed}-line change: median {ms:.1f} ms, {ms / floor:.1f}× git's "
            f"own read (goal ≤ {GOAL_MS:g} ms: {'met' if ms <= GOAL_MS else 'MISSED'})"
        )
    return judged


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small change, few runs")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory() as tmp:
        for line in bench(Path(tmp), 500 if quick else 5_000, 5 if quick else 20):
            print(line)
