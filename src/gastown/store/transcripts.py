"""Runs' transcripts in the ledger, for the hosts that do not have the file: plain functions
over a `Tx`, so the store's classes stay as they are.

The host running an agent writes its transcript to a file and ships what the file gained, in
batches, as chunks (`polecat.shipping`). A chunk is complete lines of UTF-8 text and `start`,
the byte offset in the file where they began, so the ledger is read with the same offsets as
the file: `lines_after` and `tail` mirror `polecat.transcript.read_lines` and `tail_lines`.
Only an active run takes chunks: a run that has ended (its host lost, say) adds nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gastown.limits import MAX_INT
from gastown.store.projection import PostgresJson
from gastown.store.rows import ACTIVE_RUNS

TAIL_BYTES = 256 * 1024
"""The most a reader takes at once (the tail of a long transcript, or one read of a live one),
from a file or from the ledger."""

if TYPE_CHECKING:
    from gastown.store.sql import Tx

_ACTIVE = ACTIVE_RUNS
BATCH = 64
"""Chunks fetched by one query while reading."""


def _bytes(tx: Tx) -> str:
    """SQL for a chunk's length in bytes (its `start` plus this is where the next begins)."""
    return (
        "octet_length(data)"
        if isinstance(tx.db.json, PostgresJson)
        else "length(CAST(data AS BLOB))"
    )


def ship(tx: Tx, run_id: str, start: int, data: str) -> bool:
    """Keep `data` (complete lines) as the run's transcript from byte `start` on, while the
    run is active; False, keeping nothing, once it has ended. A chunk already kept at `start`
    (a batch written again after a commit whose answer was lost) stays as it was."""
    cur = tx.db.execute(
        "INSERT INTO transcript_chunks (run_id, start, data) SELECT ?, ?, ? WHERE EXISTS "
        f"(SELECT 1 FROM runs WHERE id = ? AND status IN ({_ACTIVE})) "
        "ON CONFLICT (run_id, start) DO NOTHING",
        (run_id, start, data, run_id),
    )
    if cur.rowcount == 1:
        return True
    active = tx.db.execute(
        f"SELECT 1 FROM runs WHERE id = ? AND status IN ({_ACTIVE})", (run_id,)
    ).fetchone()
    return active is not None


def lines_after(tx: Tx, run_id: str, offset: int) -> tuple[list[str], int]:
    """The complete lines kept after byte `offset` (at most about `TAIL_BYTES` of them, as a
    read of the file takes) and the offset just past them; none, and `offset`, when nothing
    was kept after it."""
    rows = tx.db.execute(
        "SELECT start, data FROM transcript_chunks WHERE run_id = ? AND start >= COALESCE("
        "(SELECT MAX(start) FROM transcript_chunks WHERE run_id = ? AND start <= ?), 0) "
        f"AND start + {_bytes(tx)} > ? ORDER BY start LIMIT ?",
        (run_id, run_id, offset, offset, BATCH),
    ).fetchall()
    texts: list[str] = []
    end, taken = offset, 0
    for start, data in rows:
        raw = str(data).encode("utf-8")
        if texts and (int(start) != end or taken + len(raw) > TAIL_BYTES):
            break  # a gap (never written) or enough for one read
        if int(start) < offset:  # the offset fell inside this chunk: from there on
            raw = raw[offset - int(start) :]
            texts.append(raw.decode("utf-8", errors="replace"))
        else:
            texts.append(str(data))
        end, taken = int(start) + len(str(data).encode("utf-8")), taken + len(raw)
    return "".join(texts).splitlines(), end


def tail(tx: Tx, run_id: str, n: int) -> tuple[list[str], int]:
    """The last `n` complete lines kept (from at most about `TAIL_BYTES`) and the offset just
    past them; none, and 0, when nothing was kept."""
    texts: list[str] = []
    end = taken = lines = 0
    before, limit = MAX_INT, max(1, min(n, BATCH))  # every chunk holds a line at least
    while True:
        rows = tx.db.execute(
            "SELECT start, data FROM transcript_chunks WHERE run_id = ? AND start < ? "
            "ORDER BY start DESC LIMIT ?",
            (run_id, before, limit),
        ).fetchall()
        for start, data in rows:
            text = str(data)
            size = len(text.encode("utf-8"))
            if not texts:
                end = int(start) + size
            texts.append(text)
            taken, lines, before = taken + size, lines + text.count("\n"), int(start)
            if lines >= n or taken >= TAIL_BYTES:
                break
        if lines >= n or taken >= TAIL_BYTES or len(rows) < limit:
            return "".join(reversed(texts)).splitlines()[-n:], end
        limit = BATCH


def end_of(tx: Tx, run_id: str) -> int:
    """The offset just past the last chunk kept (0: none), where shipping carries on."""
    row = tx.db.execute(
        f"SELECT start + {_bytes(tx)} FROM transcript_chunks WHERE run_id = ? "
        "ORDER BY start DESC LIMIT 1",
        (run_id,),
    ).fetchone()
    return 0 if row is None else int(row[0])


def kept(tx: Tx, run_id: str) -> bool:
    """Whether any of the run's transcript is kept."""
    found = tx.db.execute(
        "SELECT 1 FROM transcript_chunks WHERE run_id = ? LIMIT 1", (run_id,)
    ).fetchone()
    return found is not None
