"""The reconciler loop and the agents' supervisor, inside the town process.

A pass reads a snapshot, plans, applies, then starts and stops agents. Passes run when
something wakes the loop (a command that changed the ledger, a run that ended) and on a
periodic tick that only matters for timeouts. One pass at a time; ledger work on the event
loop, git and files in threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gastown import config
from gastown.clock import Clock, SystemClock
from gastown.model import ACTIVE_RUN_STATUSES, RUNNING, Run
from gastown.polecat import group
from gastown.polecat.finish import Finished, end_lost, record_finish
from gastown.polecat.run import Handle, Launch, adopt_polecat, run_dir_of, run_polecat
from gastown.polecat.shipping import Shipper
from gastown.reconciler import Attempts, Policy, Timeouts, load_snapshot, plan
from gastown.reconciler.apply import apply
from gastown.record import replace
from gastown.refinery.human_prs import HumanReviews
from gastown.refinery.loop import RefineryLoop
from gastown.refinery.step import Seams
from gastown.sections import sections
from gastown.services import agent_control
from gastown.services.faults import Faults
from gastown.services.intake import IntakePoller
from gastown.services.ledger import Ledger
from gastown.services.routing import Router
from gastown.store import controls, hosts
from gastown.town import Town
from gastown.townrun.wake import woken_or_after
from gastown.workers.placement import live_workers, placer

if TYPE_CHECKING:
    from gastown.workers.watch import Watch

log = logging.getLogger("gastown.town")

TICK = 5.0
HEARTBEAT_EVERY = 0.5
"""Seconds between passes when nothing wakes the loop (timeouts only)."""


def policy_from(settings: config.Resolved) -> Policy:
    """The town-wide rules from settings (per-rig limits come with each rig's snapshot)."""
    polecat = sections(settings).polecat
    return Policy(
        attempts=Attempts.spaced(float(polecat.retry_backoff_seconds)),
        timeouts=Timeouts(
            stall=float(polecat.stall_timeout_seconds),
            run=float(polecat.run_timeout_seconds),
        ),
    )


class TownLoop:
    def __init__(
        self,
        town: Town,
        ledger: Ledger,
        api_url: str,
        town_token: str,
        environ: Mapping[str, str],
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        tick: float = TICK,
        refinery: Seams | None = None,
        watch: Watch | None = None,
    ) -> None:
        self.launch = Launch(town, ledger, api_url, town_token, dict(environ))
        self.faults = Faults(ledger)
        if watch is not None and (refinery is None or refinery.remote_gates is None):
            from gastown.workers.gate_requests import RemoteGates  # the job engine's

            refinery = replace(refinery or Seams(), remote_gates=RemoteGates(watch.db_url))
        self.refinery = RefineryLoop(town, environ, self.wake, refinery, self.faults)
        self.intake = IntakePoller(
            town, environ, forges=refinery.forge if refinery else None, wake=self.wake
        )
        self.human_reviews = HumanReviews(town, environ, self.faults)
        self.clock = clock or SystemClock()
        self.router = Router(
            ledger,
            lambda: config.resolve(town.settings, None, environ).values,
            self.clock,
            faults=self.faults,
        )
        self._policy, self._tick = policy, tick
        self.watch = watch
        """The job engine, in a PostgreSQL town: runs may go to `gt worker`s."""
        if watch is not None:  # other hosts read its runs' transcripts from the ledger
            self.launch.shipper = Shipper()
        self.handles: dict[str, Handle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._closing = False

    @property
    def ledger(self) -> Ledger:
        return self.launch.ledger

    @property
    def policy(self) -> Policy:
        """The rules as the settings say now (a changed backoff or timeout counts at once)."""
        if self._policy is not None:
            return self._policy
        return policy_from(config.resolve(self.launch.town.settings, None, self.launch.environ))

    @property
    def tick(self) -> float:
        """Timeouts are only noticed on a tick: tick often enough for the shortest one."""
        timeouts = self.policy.timeouts
        return min(self._tick, timeouts.stall / 2, timeouts.run / 2)

    def wake(self) -> None:
        """Run a pass as soon as possible."""
        self._wake.set()
        self.router.woken.set()  # a new escalation is sent at once, not at the next tick

    async def run(self) -> None:
        """Recover what a previous town process left, then pass until cancelled."""
        self.recover()
        loop = asyncio.get_running_loop()
        beating = loop.create_task(self._write_heartbeats())
        polling = loop.create_task(self.intake.run())
        routing = loop.create_task(self.router.run())
        helpers = [beating, polling, routing]
        if self.watch is not None:
            await self.watch.open()
            helpers.append(loop.create_task(self._watch_workers(self.watch)))
        try:
            await self._passes()
        finally:
            for task in helpers:
                task.cancel()
            # Wait for them to end, so none touches the ledger after the town closes it.
            await asyncio.gather(*helpers, return_exceptions=True)
            if self.watch is not None:
                await self.watch.close()

    async def _watch_workers(self, watch: Watch) -> None:
        """Send runs that have no job, take back the runs of workers that stopped answering,
        and forget hosts long gone (the town's settings are kept for other hosts by
        `process.settings_sync`, in every town process)."""
        while True:
            window = float(sections(self.settings()).workers.stalled_seconds)
            try:
                with self.ledger.store.transaction() as tx:
                    hosts.prune(tx, self.clock.now(), keep=max(300.0, 10 * window))
                if await watch.check(window):
                    self.wake()
            except Exception as exc:  # the next look tries again
                log.exception("watching the workers failed")
                self.faults.failed("the workers' watch", exc)
            await asyncio.sleep(min(2.0, window / 3))

    def settings(self) -> config.Resolved:
        """The town's settings as they are now."""
        return config.resolve(self.launch.town.settings, None, self.launch.environ)

    async def _passes(self) -> None:
        while not self._closing:
            try:
                self.reconcile()
            except Exception as exc:  # one bad pass must not stop the town: try again
                log.exception("reconciler pass failed")
                self.faults.failed("the reconciler", exc)
            else:
                self.faults.succeeded("the reconciler")
            await woken_or_after(self._wake, self.tick)

    async def _write_heartbeats(self, every: float = HEARTBEAT_EVERY) -> None:
        """Every line an agent prints is a heartbeat; once a second, the latest of each run are
        written together in one transaction."""
        while True:
            await asyncio.sleep(every)
            self.flush_heartbeats()

    def flush_heartbeats(self) -> None:
        files, self.launch.unflushed = self.launch.unflushed, set()
        for transcript in files:
            transcript.flush()
        if self.launch.shipper is not None:
            self.launch.shipper.ship(self.ledger.store)
        beats, self.launch.beats = self.launch.beats, {}
        costs, self.launch.costs = self.launch.costs, {}
        if beats or costs:
            with self.ledger.store.transaction() as tx:
                for run_id, stamp in beats.items():
                    tx.heartbeat(run_id, stamp)
                for run_id, usd in costs.items():
                    controls.set_live_cost(tx, run_id, usd)

    def reconcile(self) -> None:
        """One pass: look, decide, act."""
        self.flush_heartbeats()
        now = self.clock.now()
        with self.ledger.store.reader() as tx:
            snap = load_snapshot(tx, now, self.launch.town.settings, environ=self.launch.environ)
            refining = [r for r in map(tx.get_rig, tx.refinery_rigs()) if r is not None]
            tx_rigs = {r.name: r.settings for r in tx.list_rigs()} if self.watch else {}
        applied = apply(self.ledger, plan(snap, now, self.policy), self._placer(tx_rigs))
        for stop in applied.stops:
            self.stop(stop.run_id, stop.reason, stop.after)
        for run in applied.launches:
            self.start(run)
        self.refinery.poke(refining)
        self.human_reviews.poke()

    def _placer(self, rigs: Mapping[str, Mapping[str, object]]) -> Callable[[str], str | None]:
        """Where each rig's new runs go: a worker's queue, or here (None)."""
        if self.watch is None:
            return lambda rig: None
        town = self.launch.town
        window = float(sections(self.settings()).workers.stalled_seconds)
        live = live_workers(self.ledger, self.clock.now(), window)
        return placer(town.settings, rigs, self.launch.environ, live)

    def start(self, run: Run) -> None:
        if run.queue is not None and self.watch is not None:  # a worker takes it from there
            sending = asyncio.get_running_loop().create_task(self.watch.send(run.id, run.queue))
            self.tasks.add(sending)
            sending.add_done_callback(self.tasks.discard)
            return
        handle = Handle(run)
        self.handles[run.id] = handle
        task = asyncio.get_running_loop().create_task(
            run_polecat(self.launch, run, handle, self.wake), name=f"run {run.id}"
        )
        self.tasks.add(task)

        task.add_done_callback(self._forget(run.id))

    def _forget(self, run_id: str) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.handles.pop(run_id, None)

        return done

    def stop(self, run_id: str, reason: str, after: str | None = None) -> bool:
        """Stop a run this process supervises; its end is recorded when the agent exits.
        `after` is None for the town's own stops (timeouts), `hold` or `requeue` for a
        person's (see `Handle.after_stop`)."""
        handle = self.handles.get(run_id)
        if handle is None:
            return self._stop_remote(run_id, reason, after)
        handle.stop_reason, handle.after_stop = reason, after
        handle.stop()
        return True

    def _stop_remote(self, run_id: str, reason: str, after: str | None) -> bool:
        """Ask the worker running `run_id` to stop it; a run still waiting for a worker is
        ended here, as its worker would have."""
        if self.watch is None:
            return False
        with self.ledger.store.transaction() as tx:
            run = tx.get_run(run_id)
            if run is None or not run.active or run.queue is None:
                return False
            if run.host is not None:
                hosts.ask_stop(tx, run_id, reason, after)
                return True
        record_finish(self.ledger, run, Finished([]), reason, after)
        return True

    def supervises(self, run_id: str) -> bool:
        """Whether this process follows the run's agent, itself or through a worker."""
        if run_id in self.handles:
            return True
        if self.watch is None:
            return False
        with self.ledger.store.reader() as tx:
            run = tx.get_run(run_id)
        return run is not None and run.active and run.queue is not None

    def session_of(self, run_id: str) -> Callable[[str], bool] | None:
        """How to write into the run's session, while its agent takes messages mid-run."""
        handle = self.handles.get(run_id)
        return handle.session.send if handle is not None and handle.session else None

    def control(self, name: str, action: str, actor: str, text: str = "") -> dict[str, object]:
        """`gt agent stop|reset NAME` and `gt nudge NAME TEXT`, from the API."""
        return agent_control.control(self.ledger, self, name, action, actor, text)

    def recover(self) -> None:
        """Runs left active by a town process that is gone. A run whose agent is still running
        is adopted: its output files are followed from where its transcript stopped. So is one
        whose agent finished while no town watched (its wrapper wrote the exit status): that
        work was paid for, and it is finished exactly as a followed run is. One whose agent is
        gone without a word (or that never started) is ended `lost`, its attempt given back and
        its bead requeued; worktrees and branches stay, and the next run continues the branch."""
        with self.ledger.store.reader() as tx:
            orphans = tx.list_runs(statuses=ACTIVE_RUN_STATUSES)
        for run in orphans:
            if run.queue is not None:  # a worker's, or waiting for one: the watch's to judge
                continue
            if run.status == RUNNING and run.pid and self._left_an_end(run):
                self.adopt(run)
            else:
                self._end_lost(run)

    def _left_an_end(self, run: Run) -> bool:
        """Whether the run's agent still runs or wrote its exit status before it ended."""
        assert run.pid is not None
        finished = (run_dir_of(self.launch.town, run) / "exit").exists()
        return finished or group.alive(run.pid, run.id)

    def adopt(self, run: Run) -> None:
        """Follow a run whose agent outlived the town process that started it (or finish one
        whose agent ended while no town process watched)."""
        finished = (run_dir_of(self.launch.town, run) / "exit").exists()
        handle = Handle(run)
        self.handles[run.id] = handle
        task = asyncio.get_running_loop().create_task(
            adopt_polecat(self.launch, run, handle, self.wake), name=f"adopted {run.id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self._forget(run.id))
        with self.ledger.store.transaction() as tx:
            self.ledger.record_event(
                tx,
                "run.adopted",
                bead_id=run.bead_id,
                rig=run.rig,
                after={"run": run.id, "pid": run.pid},
                reason="its agent finished while the town was down"
                if finished
                else "its agent outlived the town process that started it",
            )

    def _end_lost(self, run: Run) -> None:
        # An agent started just before the town died may run with its pid unrecorded: it must
        # not write on into a worktree that goes to the next run.
        if group.kill_strays(run.id):
            log.warning("run %s: killed its agent, which no town process was following", run.id)
        end_lost(self.ledger, run)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop every agent and wait for their runs to be recorded."""
        self._closing = True
        self.wake()
        for run_id in list(self.handles):
            self.stop(run_id, "the town process is stopping", "release")
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=grace + 5)
        await self.refinery.shutdown(grace)
