"""Institutional knowledge: short notes about a rig or the whole town ("tests need `make db`
first", "never touch `vendor/`"), kept in the ledger with where each came from.

A note is proposed or accepted when it is written, then accepted or rejected by a person or
the mayor. Only accepted notes reach the agents: each polecat prompt carries the ones most
relevant to its bead (ranked by the database's own full-text search, `store/knowledge.py`)
within a size budget, the reviewer gets them as criteria, and the mayor sees them.

This module is the pure part: the record, what a note may hold, the words a bead is searched
by, the budget, and the signature by which the refinery tells a review comment recurs.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from gastown.errors import InvalidValue
from gastown.limits import bad_character
from gastown.record import Record

Source = Literal["person", "polecat", "refinery", "mayor"]
SOURCES: tuple[Source, ...] = ("person", "polecat", "refinery", "mayor")
PROPOSED, ACCEPTED, REJECTED = "proposed", "accepted", "rejected"
STATUSES = (PROPOSED, ACCEPTED, REJECTED)

MAX_TEXT = 2_000
"""Characters in one note: a rule of thumb, not a document (500 tokens at most, a quarter of
the default prompt budget)."""
CHARS_PER_TOKEN = 4
"""How a budget in tokens becomes one in characters: a rough but stable estimate."""
MAX_TERMS = 64
"""Words of a bead searched for at most: the rarest matter, a long body adds little."""
RECUR_AFTER = 3
"""Merge requests on one rig that must draw the same review comment before it is proposed
as a note."""

_STOP = """a an and are as at be but by can do does for from has have if in into is it its not of
    on or so that the their then there these this to was we were what when where which will
    with you your should must need needs make use used using also only all any each add new
    """
STOPWORDS = frozenset(_STOP.split())
"""Words too common to rank notes by."""


class Note(Record):
    """One piece of institutional knowledge."""

    id: int
    """Numbered by the store, in order."""
    text: str
    """The note itself: a rule of thumb in a few sentences."""
    rig: str | None
    """The rig it is about; None for the whole town."""
    source: str
    """Where it came from: `person`, `polecat` (`gt remember` in a run), `refinery` (a review
    comment that recurs) or `mayor`."""
    author: str
    """Who wrote it, as the event log names actors (a user, `app/polecat/alder`, `mayor`)."""
    status: str
    """`proposed` (waits for a person or the mayor), `accepted` (agents get it), `rejected`."""
    created_at: str
    """When it was written (RFC 3339, UTC)."""
    updated_at: str
    """When its text or status last changed."""
    bead_id: str | None = None
    """The bead it was learned on (a polecat's, or the refinery's last merge request's)."""
    run_id: str | None = None
    """The run it was learned in, if a polecat's."""
    signature: str | None = None
    """The refinery's key of the recurring review comment it came from."""
    merged_into: int | None = None
    """The note that took its place, when the mayor merged it with others."""

    def to_json(self) -> dict[str, Any]:
        """The note as `--json` and the API give it."""
        return {name: getattr(self, name) for name in self.__fields__}


def check_text(text: str) -> str:
    """The note's text, stripped, if a note may hold it; else a plain refusal."""
    body = text.strip()
    if not body:
        raise InvalidValue("A note cannot be empty.", hint="Say the thing agents should know.")
    if len(body) > MAX_TEXT:
        raise InvalidValue(
            f"A note is at most {MAX_TEXT} characters; this one has {len(body)}.",
            hint="Keep one rule per note; split a longer text into several.",
        )
    bad = bad_character(body, "\n\t")
    if bad:
        raise InvalidValue(f"A note cannot hold the control character {bad}.")
    return body


_WORD = re.compile(r"\w+")


def search_terms(*texts: str) -> list[str]:
    """The words a bead is searched by: lower case, each once, in order, without stop words,
    numbers or one- and two-letter words; at most `MAX_TERMS`."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in _WORD.findall(text.lower()):
            if len(word) > 2 and not word.isdigit() and word not in STOPWORDS:
                seen.setdefault(word)
                if len(seen) >= MAX_TERMS:
                    return list(seen)
    return list(seen)


def tokens(text: str) -> int:
    """The estimated tokens of `text` (characters / `CHARS_PER_TOKEN`, rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def line(note: Note) -> str:
    """How a note reads in a prompt."""
    return f"- {note.text}"


def fit(notes: list[Note], budget_tokens: int) -> list[Note]:
    """The notes, in the order given (most relevant first), that fit the budget together;
    one too long for what is left is skipped and shorter ones after it still go in."""
    left = budget_tokens * CHARS_PER_TOKEN
    kept: list[Note] = []
    for note in notes:
        size = len(line(note)) + 1  # and its line break
        if size <= left:
            kept.append(note)
            left -= size
    return kept


def section(notes: list[Note]) -> str:
    """The notes as lines of a prompt section (empty for none)."""
    return "\n".join(line(n) for n in notes)


def signature(comment: str) -> str:
    """The key by which two review comments count as the same: the words of the comment in
    lower case, without numbers, quoting or punctuation (line numbers and names in backticks
    differ from one merge request to the next; the complaint does not)."""
    words = [w for w in _WORD.findall(comment.lower()) if not any(c.isdigit() for c in w)]
    return " ".join(words)[:300]


def recurring_text(rig: str, comment: str) -> str:
    """The note the refinery proposes for a review comment that keeps coming back."""
    said = " ".join(comment.split())
    head = f"Reviewers on {rig} keep asking for this: "
    return head + (said if len(head) + len(said) <= MAX_TEXT else said[: MAX_TEXT - len(head)])


def markdown(notes: list[Note], town: str) -> str:
    """The notes as a Markdown document: the town's first, then each rig's."""
    parts = [f"# What the town {town} knows\n"]
    for rig in sorted({n.rig for n in notes}, key=lambda r: (r is not None, r or "")):
        mine = [n for n in notes if n.rig == rig]
        parts.append(f"\n## {'The whole town' if rig is None else 'Rig ' + rig}\n\n")
        parts.extend(f"{line(n)}\n" for n in mine)
    if not notes:
        parts.append("\nNo accepted notes yet.\n")
    return "".join(parts)
