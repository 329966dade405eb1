"""Where a run's transcript is and how it is read while it grows.

Every run writes its transcript to `logs/runs/<run>/transcript.jsonl` in the folder of the
host it runs on, one JSON event per line, and the run records that place when its agent
starts. Readers take complete lines only: a line still being written waits for the next read.

A run whose agent ran on another host (a `gt worker`) has no file here: that host ships its
transcript to the ledger in batches (`polecat.shipping`, `store.transcripts`). `Source` is
the one way readers read a run's transcript: the file when this host has it, else the ledger,
with the same offsets and the same return shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from gastown.store.transcripts import TAIL_BYTES

if TYPE_CHECKING:
    from gastown.store import Store, Tx

T = TypeVar("T")


class Source:
    """A run's transcript as this host can read it: its file when the run's agent ran here
    (nothing is asked of the ledger then), else the chunks its host shipped to the ledger,
    read with the same byte offsets. `ledger` is a store (each read is a reader of its own,
    so a follower sees chunks as they arrive) or a transaction already open; None reads the
    file alone. Read from the ledger, a failed or stopped run's transcript ends, as its file
    does, with the town's verdict (see `append_outcome`)."""

    def __init__(
        self, town: Path, run_id: str, recorded: str | None, ledger: Store | Tx | None
    ) -> None:
        self.run_id = run_id
        self.path = transcript_file(town, run_id, recorded)
        self.ledger = ledger

    def exists(self) -> bool:
        """Whether any of the transcript can be read here yet."""
        if self.path.exists():
            return True
        from gastown.store import transcripts

        return self._ask(lambda tx: transcripts.kept(tx, self.run_id), False)

    def tail_lines(self, lines: int) -> tuple[list[str], int]:
        """The last `lines` complete lines, as stored, and the offset just past them."""
        try:
            return _file_tail(self.path, lines)
        except FileNotFoundError:
            nothing: tuple[list[str], int] = ([], 0)
            return self._ask(lambda tx: _ledger_tail(tx, self.run_id, lines), nothing)

    def read_lines(self, offset: int) -> tuple[list[str], int]:
        """The complete lines written after byte `offset`, as stored, and the new offset."""
        try:
            text, end = read_text(self.path, offset)
        except FileNotFoundError:
            nothing: tuple[list[str], int] = ([], offset)
            return self._ask(lambda tx: _ledger_read(tx, self.run_id, offset), nothing)
        return text.splitlines(), end

    def tail(self, lines: int) -> tuple[list[dict[str, Any]], int]:
        """The last `lines` events and the offset just past them (as `transcript_tail`)."""
        raw, end = self.tail_lines(lines)
        return [event_of(line) for line in raw], end

    def read(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Events written after byte `offset` and the new offset (as `read_transcript`)."""
        raw, end = self.read_lines(offset)
        return [event_of(line) for line in raw], end

    def _ask(self, query: Callable[[Tx], T], default: T) -> T:
        from gastown.store.sql import Tx

        if self.ledger is None:
            return default
        if isinstance(self.ledger, Tx):
            return query(self.ledger)
        with self.ledger.reader() as tx:
            return query(tx)


def _ledger_tail(tx: Tx, run_id: str, lines: int) -> tuple[list[str], int]:
    from gastown.store import transcripts

    found, end = transcripts.tail(tx, run_id, lines)
    verdict = _verdict(tx, run_id) if found and not is_outcome(found[-1]) else None
    if verdict is None:
        return found, end
    return [*found, verdict][-lines:], end + len(verdict.encode("utf-8")) + 1


def _ledger_read(tx: Tx, run_id: str, offset: int) -> tuple[list[str], int]:
    from gastown.store import transcripts

    found, end = transcripts.lines_after(tx, run_id, offset)
    verdict = _verdict(tx, run_id)
    if verdict is None:
        return found, end
    last, last_end = transcripts.tail(tx, run_id, 1)  # the run has ended: is this the end?
    if end != last_end or not last or is_outcome(last[-1]):
        return found, end
    return [*found, verdict], end + len(verdict.encode("utf-8")) + 1


def _verdict(tx: Tx, run_id: str) -> str | None:
    """The line `append_outcome` ends a failed or stopped run's file with, or None."""
    run = tx.get_run(run_id)
    if run is None or run.status not in ("failed", "stopped") or not run.ended_at:
        return None
    return outcome_line(run.ended_at, run.status, run.outcome) if run.outcome else None


def relative_path(run_id: str) -> str:
    """The transcript's place in the town folder, as recorded on the run."""
    return str(PurePosixPath("logs", "runs", run_id, "transcript.jsonl"))


def transcript_file(town: Path, run_id: str, recorded: str | None) -> Path:
    """Where a run's transcript is: as recorded on the run, or (for a run recorded before it
    started, or by an older town) where every run writes it."""
    return town / (recorded or relative_path(run_id))


def transcript_tail(path: Path, lines: int) -> tuple[list[dict[str, Any]], int]:
    """The last `lines` events of a transcript and the offset just past them."""
    raw, end = tail_lines(path, lines)
    return [event_of(line) for line in raw], end


def tail_lines(path: Path, lines: int) -> tuple[list[str], int]:
    """The last `lines` complete lines, as stored, and the offset just past them."""
    try:
        return _file_tail(path, lines)
    except FileNotFoundError:
        return [], 0


def _file_tail(path: Path, lines: int) -> tuple[list[str], int]:
    with path.open("rb") as src:
        size = src.seek(0, 2)
        start = max(0, size - TAIL_BYTES)
        src.seek(start)
        chunk = src.read()
    end = chunk.rfind(b"\n") + 1
    text = chunk[:end].decode("utf-8", errors="replace").splitlines()
    if start > 0 and text:
        text = text[1:]  # the first line was cut by where the read began
    return text[-lines:], start + end


def read_transcript(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Events written after byte `offset` (complete lines only) and the new offset."""
    raw, end = read_lines(path, offset)
    return [event_of(line) for line in raw], end


def read_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """The complete lines written after byte `offset`, as stored, and the new offset."""
    try:
        text, end = read_text(path, offset)
    except FileNotFoundError:
        return [], offset
    return text.splitlines(), end


def read_text(path: Path, offset: int) -> tuple[str, int]:
    """The complete lines written after byte `offset` (at most `TAIL_BYTES` of them) as one
    text, as stored, and the new offset; raises FileNotFoundError when there is no file."""
    with path.open("rb") as src:
        src.seek(offset)
        chunk = src.read(TAIL_BYTES)
    end = chunk.rfind(b"\n") + 1
    return chunk[:end].decode("utf-8", errors="replace"), offset + end


def event_of(line: str) -> dict[str, Any]:
    """One stored line as an event dict; a line that is not one is kept as `unknown`."""
    try:
        found = json.loads(line)
    except ValueError:
        return {"kind": "unknown", "raw": line}
    return found if isinstance(found, dict) else {"kind": "unknown", "raw": line}


def append_outcome(path: Path, at: str, status: str, outcome: str) -> None:
    """End a failed or stopped run's transcript with the town's verdict, so its last line says
    what the run's record says: the agent may have exited 0 ("ended (ok, exit 0)") before the
    town found no change, a stall or a budget stop. Written as an `error` event, which every
    reader shows as a failure; `outcome` and `status` are the run's own."""
    with path.open("a", encoding="utf-8") as out:
        out.write(outcome_line(at, status, outcome) + "\n")


def outcome_line(at: str, status: str, outcome: str) -> str:
    """The line `append_outcome` writes, without its newline."""
    line = {"at": at, "kind": "error", "message": f"run {status}: {outcome}"}
    line.update(outcome=outcome, status=status, by="town")
    return json.dumps(line, ensure_ascii=False)


def is_outcome(line: str) -> bool:
    """Whether a stored line is the town's verdict that `append_outcome` writes."""
    event = event_of(line)
    return event.get("kind") == "error" and event.get("by") == "town"
