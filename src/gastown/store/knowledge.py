"""The shared SQL for institutional knowledge (`gastown.knowledge`): plain functions over a
`Tx`, so the store's classes stay as they are.

Searching is each database's own full-text search. SQLite keeps an FTS5 table beside the notes
(`knowledge_fts`, its rowid the note's id), written by the same functions that write a note's
text, and ranks by `bm25`; PostgreSQL matches `to_tsvector('english', text)` (a GIN index) with
`websearch_to_tsquery` and ranks by `ts_rank`. Both are asked for any of a bead's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gastown.knowledge import ACCEPTED, Note
from gastown.store.projection import PostgresJson

if TYPE_CHECKING:
    from gastown.store.sql import Tx

COLUMNS = (
    "id, text, rig, source, author, status, created_at, updated_at, bead_id, run_id, "
    "signature, merged_into"
)
_K_COLUMNS = ", ".join(f"k.{c.strip()}" for c in COLUMNS.split(","))


def _note(row: Sequence[Any]) -> Note:
    return Note(*row[:12])


def _postgres(tx: Tx) -> bool:
    return isinstance(tx.db.json, PostgresJson)


def insert(tx: Tx, note: Note) -> int:
    """Keep a new note; its id (the one on `note` is ignored)."""
    row = tx.db.execute(
        "INSERT INTO knowledge (text, rig, source, author, status, created_at, updated_at, "
        "bead_id, run_id, signature, merged_into) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        (
            note.text,
            note.rig,
            note.source,
            note.author,
            note.status,
            note.created_at,
            note.updated_at,
            note.bead_id,
            note.run_id,
            note.signature,
            note.merged_into,
        ),
    ).fetchone()
    note_id = int(row[0])
    if not _postgres(tx):
        tx.db.execute("INSERT INTO knowledge_fts (rowid, text) VALUES (?, ?)", (note_id, note.text))
    return note_id


def get(tx: Tx, note_id: int) -> Note | None:
    """The note with this id, or None."""
    row = tx.db.execute(f"SELECT {COLUMNS} FROM knowledge WHERE id = ?", (note_id,)).fetchone()
    return _note(row) if row else None


def listing(
    tx: Tx, *, rig: str | None = None, statuses: Sequence[str] = (), limit: int | None = None
) -> list[Note]:
    """Notes, oldest first: of `rig` and the whole town when a rig is given, of those
    statuses when some are given."""
    where: list[str] = []
    params: list[Any] = []
    if rig is not None:
        where.append("(rig IS NULL OR rig = ?)")
        params.append(rig)
    if statuses:
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    cap = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = tx.db.execute(
        f"SELECT {COLUMNS} FROM knowledge{clause} ORDER BY id{cap}", params
    ).fetchall()
    return [_note(r) for r in rows]


def count(tx: Tx, status: str) -> int:
    """How many notes have this status."""
    return int(
        tx.db.execute("SELECT COUNT(*) FROM knowledge WHERE status = ?", (status,)).fetchone()[0]
    )


def update(tx: Tx, note: Note) -> None:
    """Write the note's text, status and merge back (its id names it)."""
    tx.db.execute(
        "UPDATE knowledge SET text = ?, status = ?, updated_at = ?, merged_into = ? WHERE id = ?",
        (note.text, note.status, note.updated_at, note.merged_into, note.id),
    )
    if not _postgres(tx):
        tx.db.execute("UPDATE knowledge_fts SET text = ? WHERE rowid = ?", (note.text, note.id))


def delete(tx: Tx, note_id: int) -> None:
    """Remove the note (and its search entry)."""
    tx.db.execute("DELETE FROM knowledge WHERE id = ?", (note_id,))
    if not _postgres(tx):
        tx.db.execute("DELETE FROM knowledge_fts WHERE rowid = ?", (note_id,))


def search(tx: Tx, rig: str | None, terms: Sequence[str], limit: int) -> list[Note]:
    """Accepted notes of `rig` and the town matching any of `terms`, most relevant first."""
    if not terms:
        return []
    scope = "k.status = ? AND (k.rig IS NULL OR k.rig = ?)"
    if _postgres(tx):
        sql = (
            f"SELECT {_K_COLUMNS} FROM knowledge k, websearch_to_tsquery('english', ?) q "
            f"WHERE to_tsvector('english', k.text) @@ q AND {scope} "
            "ORDER BY ts_rank(to_tsvector('english', k.text), q) DESC, k.id DESC LIMIT ?"
        )
        query = " or ".join(terms)
    else:
        # Quoted, each word is a plain string to FTS5, never its query syntax.
        sql = (
            f"SELECT {_K_COLUMNS} FROM knowledge_fts JOIN knowledge k ON k.id = "
            f"knowledge_fts.rowid WHERE knowledge_fts MATCH ? AND {scope} "
            "ORDER BY knowledge_fts.rank, k.id DESC LIMIT ?"
        )
        query = " OR ".join(f'"{t}"' for t in terms)
    rows = tx.db.execute(sql, (query, ACCEPTED, rig, limit)).fetchall()
    return [_note(r) for r in rows]


def newest(tx: Tx, rig: str | None, limit: int) -> list[Note]:
    """The newest accepted notes of `rig` and the town, newest first."""
    rows = tx.db.execute(
        f"SELECT {COLUMNS} FROM knowledge WHERE status = ? AND (rig IS NULL OR rig = ?) "
        "ORDER BY id DESC LIMIT ?",
        (ACCEPTED, rig, limit),
    ).fetchall()
    return [_note(r) for r in rows]


def signal(tx: Tx, rig: str, signature: str, mr_id: str, text: str, at: str) -> int:
    """Record that merge request `mr_id` drew this review comment (once per merge request);
    how many merge requests on the rig have drawn it."""
    tx.db.execute(
        "INSERT INTO knowledge_signals (rig, signature, mr_id, text, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (rig, signature, mr_id) DO NOTHING",
        (rig, signature, mr_id, text, at),
    )
    row = tx.db.execute(
        "SELECT COUNT(*) FROM knowledge_signals WHERE rig = ? AND signature = ?",
        (rig, signature),
    ).fetchone()
    return int(row[0])


def by_signature(tx: Tx, rig: str, signature: str) -> Note | None:
    """The rig's first note made for a failure with this signature, or None."""
    row = tx.db.execute(
        f"SELECT {COLUMNS} FROM knowledge WHERE rig = ? AND signature = ? ORDER BY id LIMIT 1",
        (rig, signature),
    ).fetchone()
    return _note(row) if row else None
