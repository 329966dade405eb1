"""The refinery inside the town process: one step at a time per rig, in worker threads.

After each reconciler pass the town loop pokes the refinery with the rigs that have work. A
rig with no step running gets one; a step that changed anything wakes the town loop, whose
next pass pokes again, so a queue drains step after step and the beads that landed have their
dependents dispatched at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping

from gastown import config
from gastown.errors import GastownError
from gastown.forge.gitauth import authorize_url
from gastown.git import worktree as wt
from gastown.model import Rig
from gastown.record import replace
from gastown.refinery.step import Progress, Seams, run_step
from gastown.sections import sections
from gastown.services.faults import Faults
from gastown.town import Town

log = logging.getLogger("gastown.refinery")


class RefineryLoop:
    def __init__(
        self,
        town: Town,
        environ: Mapping[str, str],
        wake: Callable[[], None],
        seams: Seams | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.town, self.environ, self.wake = town, dict(environ), wake
        self.seams = seams or Seams()
        if self.seams.forge is None:  # kept clients keep their ETags between polls
            from gastown.forge.select import KeptForges

            self.seams = replace(self.seams, forge=KeptForges(environ))
        self.faults = faults
        self.steps: dict[str, asyncio.Task[None]] = {}

    def poke(self, rigs: Iterable[Rig]) -> None:
        """Start a step on each of `rigs` (those with refinery work) that has none running,
        unless its `refinery.auto` is off."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a pass run by hand, outside the town process
            return
        if self.seams.stop.is_set():
            return
        for record in rigs:
            rig = record.name
            if rig in self.steps:
                continue
            settings = config.resolve(self.town.settings, record.settings, self.environ)
            if sections(settings).refinery.auto:
                task = loop.create_task(self._step(record), name=f"refinery {rig}")
                self.steps[rig] = task
                task.add_done_callback(self._forget(rig))

    def _forget(self, rig: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self.steps.pop(rig, None)

        return done

    async def _step(self, record: Rig) -> None:
        rig = record.name
        where = f"the refinery on rig {rig}"
        try:
            progress: Progress = await asyncio.to_thread(self._run, record)
        except Exception as exc:  # one bad step must not stop the refinery: try again later
            log.exception("refinery step on %s failed", rig)
            if self.faults is not None:
                self.faults.failed(where, exc, rig=rig)
            return
        if self.faults is not None:
            self.faults.succeeded(where)
        if progress.changed or progress.landed or progress.reworked or progress.held:
            self.wake()

    def _run(self, record: Rig) -> Progress:
        """One step (in a thread), the rig's clone made first when this town folder has none:
        a folder that joined the town, now leading, or a rig another host added."""
        if not (self.town.path / record.path / ".git").exists():
            settings = config.resolve(self.town.settings, record.settings, self.environ)
            with contextlib.suppress(GastownError):  # without a token the clone says why
                authorize_url(record.url, settings, self.environ)
            wt.ensure_clone(self.town.path / record.path, record.url, record.branch)
        return run_step(self.town, record.name, self.environ, self.seams)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop: running gates are killed, their batches requeued."""
        self.seams.stop.set()
        if self.steps:
            await asyncio.wait(list(self.steps.values()), timeout=grace)
