"""Where a run's transcript is and how it is read while it grows.

Every run writes its transcript to `logs/runs/<run>/transcript.jsonl` in the town folder, one
JSON event per line, and the run records that place when its agent starts. Readers take
complete lines only: a line still being written waits for the next read.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

TAIL_BYTES = 256 * 1024
"""The most a reader takes at once (the tail of a long transcript, or one read of a live one)."""


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
        with path.open("rb") as src:
            size = src.seek(0, 2)
            start = max(0, size - TAIL_BYTES)
            src.seek(start)
            chunk = src.read()
    except FileNotFoundError:
        return [], 0
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
        with path.open("rb") as src:
            src.seek(offset)
            chunk = src.read(TAIL_BYTES)
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    return chunk[:end].decode("utf-8", errors="replace").splitlines(), offset + end


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
    line = {"at": at, "kind": "error", "message": f"run {status}: {outcome}"}
    line.update(outcome=outcome, status=status, by="town")
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
