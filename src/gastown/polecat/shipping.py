"""Shipping runs' transcripts to the ledger, so hosts without the file can read them.

The process running agents (the town process, or a `gt worker` on another host) writes each
run's transcript to a file. Each time it flushes transcripts it tells a `Shipper` which grew
(`pending`) and then ships (`ship`): the complete lines each gained since its last shipment
go to the ledger in one transaction for all runs, as chunks keyed by their byte offset in the
file (`store.transcripts`). Readers elsewhere read them through `transcript.Source`.

A run that has ended takes no more: its shipment is refused, and the shipper forgets it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gastown.polecat.transcript import read_text
from gastown.store import transcripts

if TYPE_CHECKING:
    from gastown.store import Store

READS = 4
"""Reads of one file (each at most `transcript.TAIL_BYTES`) per shipment; a file that grew
more (a host catching up after a restart) ships the rest with the next ones."""


class Shipper:
    """What each run's transcript has shipped so far, and which grew since."""

    def __init__(self) -> None:
        self._shipped: dict[str, tuple[int, int]] = {}
        """Per run: the offset in its file read up to, and the ledger's offset after what was
        shipped (the same, unless the file held bytes that are not UTF-8 text)."""
        self._grown: dict[str, Path] = {}
        self.refused: set[str] = set()
        """Runs whose shipment the ledger refused (they had ended); their files are not read
        again, until `forget`."""

    def pending(self, run_id: str, path: Path) -> None:
        """Note that the run's transcript, at `path`, has grown since it was last shipped."""
        if run_id not in self.refused:
            self._grown[run_id] = path

    def forget(self, run_id: str) -> None:
        """Keep nothing more of a run (it has ended and its last lines were shipped)."""
        self._shipped.pop(run_id, None)
        self._grown.pop(run_id, None)
        self.refused.discard(run_id)

    def ship(self, store: Store) -> int:
        """Ship what the noted transcripts gained, in one transaction; how many lines were
        shipped. Nothing is read or written when nothing grew. A run that has ended is
        forgotten and added to `refused`. If the ledger cannot be written, the runs stay
        noted and the error is raised."""
        if not self._grown:
            return 0
        grown, self._grown = self._grown, {}
        try:
            return self._ship(store, grown)
        except BaseException:
            for run_id, path in grown.items():
                self._grown.setdefault(run_id, path)
            raise

    def _ship(self, store: Store, grown: dict[str, Path]) -> int:
        first = [run_id for run_id in grown if run_id not in self._shipped]
        if first:  # carry on from what the ledger holds (this process may have restarted)
            with store.reader() as tx:
                for run_id in first:
                    end = transcripts.end_of(tx, run_id)
                    self._shipped[run_id] = (end, end)
        chunks: list[tuple[str, int, str]] = []
        after: dict[str, tuple[int, int]] = {}
        for run_id, path in grown.items():
            read, start = self._shipped[run_id]
            for _ in range(READS):
                try:
                    text, end = read_text(path, read)
                except FileNotFoundError:
                    break
                if not text:
                    break
                text = text.replace("\x00", "\ufffd")  # PostgreSQL keeps no NUL in text
                chunks.append((run_id, start, text))
                read, start = end, start + len(text.encode("utf-8"))
            else:
                self._grown.setdefault(run_id, path)  # more to read: the next shipment
            after[run_id] = (read, start)
        if not chunks:
            return 0
        refused: set[str] = set()
        with store.transaction() as tx:
            for run_id, start, text in chunks:
                if run_id not in refused and not transcripts.ship(tx, run_id, start, text):
                    refused.add(run_id)
        for run_id in refused:
            self.forget(run_id)
            self.refused.add(run_id)
        self._shipped.update({r: place for r, place in after.items() if r not in refused})
        return sum(text.count("\n") for run_id, _, text in chunks if run_id not in refused)
