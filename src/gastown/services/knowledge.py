"""Institutional knowledge: the use cases over notes (`gastown.knowledge`), for the CLI
(`gt knowledge`, `gt remember`), the agent and dashboard routes, the mayor's tools and the
refinery. Each change is one transaction with its `knowledge.*` event.
"""

from __future__ import annotations

from collections.abc import Sequence

from gastown import knowledge as kn
from gastown.errors import Conflict, InvalidValue, NotFound
from gastown.knowledge import ACCEPTED, PROPOSED, REJECTED, Note
from gastown.services.ledger import Ledger
from gastown.store import Tx
from gastown.store import knowledge as q

CANDIDATES = 50
"""Notes a prompt chooses from: the best matches, then as many of the newest accepted."""


def _rig(tx: Tx, rig: str | None) -> str | None:
    if rig is not None and tx.get_rig(rig) is None:
        raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
    return rig


def _find(tx: Tx, note_id: int) -> Note:
    note = q.get(tx, note_id)
    if note is None:
        raise NotFound(
            f"There is no note {note_id}.", hint="`gt knowledge list --all` lists every note."
        )
    return note


def add_in(
    ledger: Ledger,
    tx: Tx,
    text: str,
    *,
    rig: str | None = None,
    source: str = "person",
    status: str = ACCEPTED,
    bead_id: str | None = None,
    run_id: str | None = None,
    signature: str | None = None,
) -> Note:
    """Keep a new note inside the caller's transaction (with its `knowledge.added`)."""
    body = kn.check_text(text)
    now = ledger.now()
    note = Note(
        0, body, _rig(tx, rig), source, ledger.actor, status, now, now, bead_id, run_id, signature
    )
    note.id = q.insert(tx, note)
    after = {"id": note.id, "source": source, "status": status, "text": body[:200]}
    ledger.record_event(tx, "knowledge.added", at=now, bead_id=bead_id, rig=note.rig, after=after)
    return note


def add(ledger: Ledger, text: str, *, rig: str | None = None, source: str = "person") -> Note:
    """A note written by a person or the mayor: accepted at once."""
    with ledger.store.transaction() as tx:
        return add_in(ledger, tx, text, rig=rig, source=source)


def remember(ledger: Ledger, run_id: str, text: str, *, auto_accept: bool = False) -> Note:
    """A note from a polecat in its run (`gt remember`): proposed, unless the rig's
    `knowledge.auto_accept` says to take what polecats learn as it is."""
    from gastown.services.talkback import active_run

    with ledger.store.transaction() as tx:
        run = active_run(tx, run_id)
        status = ACCEPTED if auto_accept else PROPOSED
        return add_in(
            ledger,
            tx,
            text,
            rig=run.rig,
            source="polecat",
            status=status,
            bead_id=run.bead_id,
            run_id=run.id,
        )


def listing(
    ledger: Ledger,
    *,
    rig: str | None = None,
    statuses: Sequence[str] = (PROPOSED, ACCEPTED),
) -> list[Note]:
    """Notes of a rig (and the town), or of the whole town; by default the ones not
    rejected."""
    with ledger.store.reader() as tx:
        return q.listing(tx, rig=_rig(tx, rig), statuses=statuses)


def show(ledger: Ledger, note_id: int) -> Note:
    """The note with this id; else the input error saying there is none."""
    with ledger.store.reader() as tx:
        return _find(tx, note_id)


def _change(
    ledger: Ledger,
    tx: Tx,
    note: Note,
    kind: str,
    *,
    text: str | None = None,
    status: str | None = None,
    merged_into: int | None = None,
) -> Note:
    before = {"text": note.text[:200], "status": note.status}
    note.text = text if text is not None else note.text
    note.status = status or note.status
    note.merged_into = merged_into if merged_into is not None else note.merged_into
    note.updated_at = ledger.now()
    q.update(tx, note)
    after = {"id": note.id, "text": note.text[:200], "status": note.status}
    if merged_into is not None:
        after["merged_into"] = merged_into
    ledger.record_event(
        tx, kind, at=note.updated_at, bead_id=note.bead_id, rig=note.rig, before=before, after=after
    )
    return note


def edit(ledger: Ledger, note_id: int, text: str) -> Note:
    """Replace the note's text (checked first) and record the edit."""
    body = kn.check_text(text)
    with ledger.store.transaction() as tx:
        return _change(ledger, tx, _find(tx, note_id), "knowledge.edited", text=body)


def accept(ledger: Ledger, note_id: int) -> Note:
    """Agents get the note from now on."""
    return _judge(ledger, note_id, ACCEPTED)


def reject(ledger: Ledger, note_id: int) -> Note:
    """Agents no longer get the note; it stays on the record."""
    return _judge(ledger, note_id, REJECTED)


def _judge(ledger: Ledger, note_id: int, status: str) -> Note:
    with ledger.store.transaction() as tx:
        note = _find(tx, note_id)
        if note.merged_into is not None:
            raise Conflict(
                f"Note {note_id} was merged into note {note.merged_into}; judge that one.",
                hint=f"`gt knowledge show {note.merged_into}` shows it.",
            )
        if note.status == status:
            return note
        return _change(ledger, tx, note, f"knowledge.{status}", status=status)


def remove(ledger: Ledger, note_id: int) -> Note:
    """Take a note out of the ledger (a person's call; the event keeps what it said)."""
    with ledger.store.transaction() as tx:
        note = _find(tx, note_id)
        q.delete(tx, note_id)
        ledger.record_event(
            tx,
            "knowledge.removed",
            bead_id=note.bead_id,
            rig=note.rig,
            before={"id": note.id, "text": note.text[:200], "status": note.status},
        )
        return note


def merge(ledger: Ledger, note_ids: Sequence[int], text: str) -> Note:
    """One accepted note in place of several saying the same: the others are rejected and
    point at it. They must all be of one rig (or all of the town)."""
    ids = list(dict.fromkeys(note_ids))
    if len(ids) < 2:
        raise InvalidValue("Merging takes at least two notes.")
    with ledger.store.transaction() as tx:
        notes = [_find(tx, i) for i in ids]
        rigs = {n.rig for n in notes}
        if len(rigs) > 1:
            raise InvalidValue(
                "Notes of different rigs cannot be merged: "
                + ", ".join(f"{n.id} ({n.rig or 'town'})" for n in notes)
                + "."
            )
        merged = add_in(ledger, tx, text, rig=notes[0].rig, source="mayor")
        for n in notes:
            _change(ledger, tx, n, "knowledge.merged", status=REJECTED, merged_into=merged.id)
        return merged


def for_bead(tx: Tx, rig: str | None, *texts: str) -> list[Note]:
    """The accepted notes a prompt chooses from, most relevant first: those the database's
    full-text search matches with the texts' words, then the newest others."""
    found = q.search(tx, rig, kn.search_terms(*texts), CANDIDATES)
    seen = {n.id for n in found}
    return found + [n for n in q.newest(tx, rig, CANDIDATES) if n.id not in seen]


def choose(tx: Tx, rig: str | None, budget_tokens: int, *texts: str) -> list[Note]:
    """The notes a prompt carries: the most relevant that fit the budget."""
    if budget_tokens <= 0:
        return []
    return kn.fit(for_bead(tx, rig, *texts), budget_tokens)


def review_comment_seen(
    ledger: Ledger, tx: Tx, rig: str, mr_id: str, bead_id: str | None, comment: str
) -> Note | None:
    """Count a requested change's comment against the rig; once the same comment has come
    back on `kn.RECUR_AFTER` merge requests, propose it as a note (once)."""
    key = kn.signature(comment)
    if len(key.split()) < 3:  # "typo", "nit": too little to learn from
        return None
    times = q.signal(tx, rig, key, mr_id, comment[: kn.MAX_TEXT], ledger.now())
    if times < kn.RECUR_AFTER or q.by_signature(tx, rig, key) is not None:
        return None
    return add_in(
        ledger,
        tx,
        kn.recurring_text(rig, comment),
        rig=rig,
        source="refinery",
        status=PROPOSED,
        bead_id=bead_id,
        signature=key,
    )
