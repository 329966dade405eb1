"""A merge request whose change has every kind of file a diff shows (text, binary, Latin-1,
large), with the reviewer's comments, for the diff pages."""

from __future__ import annotations

from gastown.web import diff_view
from tests.builders.yard import Yard, commit_all

NEW_CALC = '''def add(a, b):
    """The sum."""
    return a + b


def sub(a, b):
    return a - b
'''
LARGE = "".join(f"line {n}\n" for n in range(diff_view.LARGE + 50))
ESC = "\x1b["


def submit(yard: Yard, title: str = "Add sub", *, review: bool = True) -> str:
    """A merge request changing calc.py, adding a binary file, a Latin-1 file and a large
    file; with `review`, the reviewer's comments on it (one on a line, one on none)."""
    _, mr_id = yard.submit(title, {"calc.py": NEW_CALC, "big.txt": LARGE})
    work = yard.worktrees[mr_id]
    (work / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff")
    (work / "notes.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    head = commit_all(work, "More files")
    ledger = yard.ledger()
    try:
        with ledger.store.transaction() as tx:
            mr = tx.get_merge_request(mr_id, lock=True)
            assert mr is not None
            mr.head_commit = head
            if review:
                mr.verdict = "changes"
                mr.review = {
                    "summary": "Nearly.",
                    "comments": [
                        {"path": "calc.py", "line": 7, "body": "Check sub's sign <b>please</b>"},
                        {"path": None, "line": None, "body": "Add a test."},
                    ],
                    "head": head,
                }
            tx.update_merge_request(mr)
    finally:
        ledger.store.close()
    return mr_id
