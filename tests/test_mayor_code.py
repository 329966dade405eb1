"""The mayor reads the code: `list_files`, `read_file` and `search_code` on a rig's target
branch as the remote has it, from git objects, through `gt mayor ask` against the scripted
model server (real HTTP, real SDK, real git)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.builders import call, mayor_of, point_at, serve
from tests.conftest import Gt, run_git

APP = '''"""The app."""


def main() -> int:
    print("hello")
    return 0
'''


def commit(repo: Path, files: dict[str, str | bytes], message: str) -> None:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    run_git("add", ".", cwd=repo)
    run_git("commit", "-q", "-m", message, cwd=repo)


def results(server: Any) -> list[tuple[bool, str]]:
    """(is it an error, text) of each tool result the model got back in the last request."""
    blocks = server.requests[-1].body["messages"][-1]["content"]
    return [(b["is_error"], b["content"]) for b in blocks]


def test_the_mayor_reads_the_remote_target_branch_and_never_writes(
    rig_gt: Gt, git_repo: Path, town_path: Path
) -> None:
    # Pushed after the rig was cloned: only a fetch can show these.
    big = "".join(f"line {i}\n" for i in range(250_000))  # about 2.6 MB
    commit(
        git_repo,
        {
            "src/app.py": APP,
            "src/util.py": "def helper():\n    return main\n",
            "docs/guide.md": "# Guide\nCall main() to start.\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary",
            "big.txt": big,
        },
        "Add the app",
    )
    (git_repo / "secrets").symlink_to("/etc/passwd")
    commit(git_repo, {}, "Add a link")
    clone = town_path / "rigs" / "app"
    before = {
        "head": run_git("rev-parse", "HEAD", cwd=clone),
        "origin": run_git("rev-parse", "origin/trunk", cwd=clone),
        "branches": run_git("branch", "-a", cwd=clone),
    }
    server = serve(
        {
            "tool_calls": [
                call("list_files", rig="app"),
                call("list_files", rig="app", path="src", pattern="*.py"),
                call("read_file", rig="app", path="src/app.py", start_line=4, end_line=6),
                call("read_file", rig="app", path="./docs/../src/util.py"),
                call("search_code", rig="app", query="main"),
                call("search_code", rig="app", query="def \\w+\\(", regex=True, path="src"),
                call("read_file", rig="app", path="logo.png"),
                call("read_file", rig="app", path="big.txt"),
                call("read_file", rig="app", path="big.txt", start_line=150_000, end_line=150_001),
                call("read_file", rig="app", path="big.txt", start_line=249_990),
                call("read_file", rig="app", path="secrets"),
            ]
        },
        {"text": "Read it."},
    )
    with server:
        point_at(rig_gt, server)
        got = rig_gt.json("mayor", "ask", "What does the app do?")

    assert [c["ok"] for c in got["tool_calls"]] == [True] * 9 + [False, True]
    texts = [text for _, text in results(server)]
    commit_id = run_git("rev-parse", "trunk", cwd=git_repo).strip()
    listed = texts[0].splitlines()
    assert listed[0] == f"# 7 files under the root — rig app, trunk at {commit_id[:10]}"
    assert sorted(listed[1:]) == [
        "README.md",
        "big.txt",
        "docs/guide.md",
        "logo.png",
        "secrets",
        "src/app.py",
        "src/util.py",
    ]
    assert texts[1].splitlines()[1:] == ["src/app.py", "src/util.py"]
    assert "2 files under src matching *.py" in texts[1]
    assert texts[2].splitlines()[1:] == [
        "4  def main() -> int:",
        '5      print("hello")',
        "6      return 0",
    ]
    assert "src/app.py, lines 4-6 of 6" in texts[2]
    assert texts[3].splitlines()[1:] == ["1  def helper():", "2      return main"]
    assert texts[4].splitlines()[1:] == [
        "docs/guide.md:2: Call main() to start.",
        "src/app.py:4: def main() -> int:",
        "src/util.py:2:     return main",
    ]
    assert texts[5].splitlines()[1:] == [
        "src/app.py:4: def main() -> int:",
        "src/util.py:1: def helper():",
    ]
    assert "logo.png: a binary file of 16 bytes, which cannot be shown" in texts[6]
    big_lines = texts[7].splitlines()
    assert "big.txt, lines 1-400 of " in big_lines[0]
    assert big_lines[1] == "  1  line 0" and big_lines[400] == "400  line 399"
    assert big_lines[401].startswith("(… call again with start_line=401; the file is ")
    assert "is read only to 2,000,000" in big_lines[401]
    assert texts[8].splitlines()[1:3] == ["150000  line 149999", "150001  line 150000"]
    assert "only its first" in texts[9] and "lines can be read" in texts[9]
    assert "secrets: a symbolic link to /etc/passwd" in texts[10]
    assert "root:" not in texts[10]

    # Nothing in the clone moved: not its branch, not its view of the remote, no new branch.
    after = {
        "head": run_git("rev-parse", "HEAD", cwd=clone),
        "origin": run_git("rev-parse", "origin/trunk", cwd=clone),
        "branches": run_git("branch", "-a", cwd=clone),
    }
    assert after == before
    assert run_git("status", "--porcelain", cwd=clone) == ""
    assert not (clone / "src").exists()
    events = rig_gt.json("events", "--kind", "mayor.tool_call")
    assert [e["after"]["name"] for e in events][:3] == ["list_files", "list_files", "read_file"]


def test_bad_code_requests_come_back_as_errors(rig_gt: Gt, git_repo: Path) -> None:
    commit(git_repo, {"src/app.py": APP}, "Add the app")
    server = serve(
        {
            "tool_calls": [
                call("read_file", rig="nope", path="README.md"),
                call("read_file", rig="app", path="../../state.db"),
                call("read_file", rig="app", path="src/../../outside"),
                call("list_files", rig="app", path="/etc"),
                call("read_file", rig="app", path="src"),
                call("read_file", rig="app", path="src/missing.py"),
                call("list_files", rig="app", path="nowhere"),
                call("search_code", rig="app", query="(", regex=True),
                call("read_file", rig="app", path="src/app.py", start_line=50),
                call("search_code", rig="app", query="nothing like this"),
            ]
        },
        {"text": "Some of that could not be read."},
    )
    with server:
        point_at(rig_gt, server)
        rig_gt.ok("mayor", "ask", "Poke at the code")

    got = results(server)
    assert [error for error, _ in got] == [True] * 9 + [False]
    texts = [text for _, text in got]
    assert "There is no rig 'nope'." in texts[0]
    assert "'../../state.db' leads out of the repository" in texts[1]
    assert "'src/../../outside' leads out of the repository" in texts[2]
    assert "'/etc' is not inside the repository" in texts[3]
    assert "'src' is a directory, not a file" in texts[4]
    assert "There is no 'src/missing.py' on trunk of rig app." in texts[5]
    assert "There is no 'nowhere' on trunk of rig app." in texts[6]
    assert texts[7].startswith("The search failed:")
    assert "'src/app.py' has 6 lines; line 50 is past its end." in texts[8]
    assert "no match for 'nothing like this'" in texts[9]


def test_the_remote_is_fetched_at_most_once_in_a_while(rig_gt: Gt, git_repo: Path) -> None:
    def reading() -> dict[str, Any]:
        return {"tool_calls": [call("read_file", rig="app", path="README.md")]}

    server = serve(reading(), {"text": "1"}, reading(), {"text": "2"}, reading(), {"text": "3"})
    with server:
        point_at(rig_gt, server)
        mayor, store = mayor_of(rig_gt)
        try:
            first = mayor.ask("Read the readme")
            commit(git_repo, {"README.md": "hello again\n"}, "Change the readme")
            second = mayor.ask("And now?")  # fetched a moment ago: not again
            mayor.ctx.fetch_every = 0
            third = mayor.ask("And now?")
        finally:
            mayor.close()
            store.close()

    shown = [json.dumps(r.tool_calls[0].result) for r in (first, second, third)]
    assert "1  hello" in shown[0] and "1  hello" in shown[1]
    assert "1  hello again" in shown[2]
