"""`gt worker`: a process on any host that takes polecat runs of a PostgreSQL town from the job
engine and runs them as the town process would.

It registers under its name (refused while another live worker holds it), clones each rig
into its own home folder, and serves the run-scoped part of the API on 127.0.0.1 so its
agents' `gt done`, `gt status` and `gt escalate` reach the ledger. Twice a second it writes
its runs' heartbeats and costs, each refused once the run has been taken from it; a run
refused so is stopped at once. It drains on SIGTERM or SIGINT, or when `gt worker --drain NAME`
marks it: no new runs, the current ones finish, then it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import procrastinate
import psycopg
import uvicorn

from gastown import config
from gastown.clock import SystemClock, stamp
from gastown.errors import UsageError
from gastown.polecat import group
from gastown.polecat.remote import Remote
from gastown.polecat.run import Handle, Launch, run_polecat
from gastown.polecat.shipping import Shipper
from gastown.process.serve import bind
from gastown.record import Record, field, replace
from gastown.sections import sections
from gastown.services.ledger import Ledger
from gastown.store import Store, controls, hosts, open_store, redact
from gastown.store.rows import ACTIVE_RUNS
from gastown.town import Town
from gastown.workers import jobs
from gastown.workers.gate_work import GateWork

log = logging.getLogger("gastown.worker")

BEAT = 0.5
"""Seconds between writes of the runs' heartbeats (and checks that each is still ours)."""
_ACTIVE = ACTIVE_RUNS


class WorkerSpec(Record):
    """How `gt worker` was asked to run."""

    db_url: str
    """The town's PostgreSQL database."""
    name: str
    """Unique among the town's workers."""
    slots: int
    """Runs at once."""
    home: Path
    """Its own folder: rig clones, worktrees, run files."""
    labels: list[str] = field(default_factory=list)
    """What it offers rigs that ask (`worker_labels`)."""


def open_town(spec: WorkerSpec) -> tuple[Store, Town]:
    """The town in `spec.db_url`, as this worker sees it (its home as the town folder), or one
    sentence saying why there is none."""
    shown = redact(spec.db_url)
    if not spec.db_url.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            f"gt worker needs a PostgreSQL town, and {shown} is not one.",
            hint="A SQLite town runs its polecats in its own process: `gt up` is all it needs.",
        )
    try:
        with psycopg.connect(spec.db_url, autocommit=True, connect_timeout=10) as conn:
            found = conn.execute("SELECT to_regclass('meta')").fetchone()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise UsageError(
            f"Cannot reach the town's database at {shown}: {reason}.",
            hint="Check the URL, and that PostgreSQL runs and lets this host in.",
        ) from None
    if found is None or found[0] is None:
        raise UsageError(
            f"The database at {shown} holds no town.",
            hint="Point --db at a town's database, or make one with `gt init PATH --db URL`.",
        )
    store = open_store(spec.db_url)
    with store.reader() as tx:
        record = hosts.town_record(tx)
    if record is None:
        store.close()
        raise UsageError(
            f"The town in {shown} has not been started yet.",
            hint="Run `gt up` in its folder once; workers join it after that.",
        )
    name, prefix, layer = record
    return store, Town(spec.home, name, prefix, spec.db_url, settings=dict(layer))


class _Api(uvicorn.Server):
    """uvicorn without its own signal handling: the worker drains on signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Worker:
    """One `gt worker` process."""

    def __init__(self, spec: WorkerSpec, store: Store, town: Town, environ: Mapping[str, str]):
        self.spec, self.town, self.environ = spec, town, dict(environ)
        self.ledger = Ledger(store, prefix=town.prefix, actor=f"worker/{spec.name}")
        self.handles: dict[str, Handle] = {}
        self.draining = asyncio.Event()
        self.clock = SystemClock()
        self.me = hosts.Host(
            spec.name,
            hosts.WORKER,
            socket.gethostname(),
            os.getpid(),
            slots=spec.slots,
            labels=sorted(set(spec.labels)),
        )
        self.launch: Launch | None = None

    @property
    def window(self) -> float:
        """Seconds of silence after which the town takes this worker's runs back."""
        return float(sections(self._settings()).workers.stalled_seconds)

    def _settings(self) -> config.Resolved:
        return config.resolve(self.town.settings, None, self.environ)

    def register(self) -> None:
        """Claim the worker's name, or refuse while another live worker holds it."""
        now = self.clock.now()
        self.me.started_at = self.me.heartbeat_at = stamp(now)
        with self.ledger.store.transaction() as tx:
            held = hosts.register(tx, self.me, now, self.window)
        if held is not None:
            raise UsageError(
                f"A worker named {held.name} is already running on {held.hostname} "
                f"(pid {held.pid}).",
                hint="Give this one another --name.",
            )

    async def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Take runs until drained; return once the last one has been recorded."""
        self.register()
        token = secrets.token_urlsafe(32)
        sock = bind("127.0.0.1", 0)
        api_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.launch = Launch(
            self.town,
            self.ledger,
            api_url,
            token,
            self.environ,
            remote=Remote(self.spec.name),
            shipper=Shipper(),
        )
        from gastown.web.api import create_app

        api = create_app(self.town, token, self.me.started_at, environ=self.environ)
        server = _Api(uvicorn.Config(api, log_level="warning", lifespan="off", access_log=False))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        await asyncio.to_thread(jobs.ensure_schema, self.spec.db_url)
        engine = jobs.job_app(self.spec.db_url)
        engine.task(name=jobs.TASK)(self._job)
        gates = GateWork(self.spec.db_url, self.spec.home, self.spec.name, self.environ)
        engine.task(name=jobs.GATES_TASK)(gates.run)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.draining.set)
        async with engine.open_async():
            taking = asyncio.create_task(self._take_jobs(engine))
            beating = asyncio.create_task(self._beat())
            if on_ready is not None:
                on_ready(api_url)
            log.info(
                "worker %s takes runs from %s", self.spec.name, jobs.queues_of(self.spec.labels)
            )
            try:
                await self.draining.wait()
            finally:
                taking.cancel()  # procrastinate stops taking jobs and waits for the running ones
                await asyncio.gather(taking, return_exceptions=True)
                beating.cancel()
                await asyncio.gather(beating, return_exceptions=True)
                self._flush()
                with self.ledger.store.transaction() as tx:
                    hosts.leave(tx, self.me.name, self.me.pid)
                server.should_exit = True
                await asyncio.gather(serving, return_exceptions=True)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _job(self, run_id: str) -> None:
        """The task: claim the run, then carry it from queued to ended."""
        assert self.launch is not None
        with self.ledger.store.transaction() as tx:
            me = hosts.get(tx, self.spec.name)
            draining = me is None or me.draining
            claimed = 0
            if not draining:
                claimed = tx.db.execute(
                    "UPDATE runs SET host = ? WHERE id = ? AND status = 'queued' AND host IS NULL",
                    (self.spec.name, run_id),
                ).rowcount
            record = hosts.town_record(tx)
            run = tx.get_run(run_id)
        if draining:  # taken as the drain began: the leader sends the run again
            self.draining.set()
            return
        if claimed != 1 or run is None:
            return  # ended or taken before this worker got to it
        if record is not None:  # settings as the leader last kept them
            self.town = replace(self.town, settings=dict(record[2]))
            self.launch.town = self.town
        handle = Handle(run)
        self.handles[run_id] = handle
        try:
            await run_polecat(self.launch, run, handle, lambda: None)
        except asyncio.CancelledError:  # taken back (an abort) or the worker is going
            pid = handle.pid or run.pid
            if pid is not None:
                await asyncio.shield(group.empty(pid, run_id))
            raise
        finally:
            self.handles.pop(run_id, None)
            self.ledger.store.wake_others()  # the leader lands its work, or retries it, now

    async def _take_jobs(self, engine: procrastinate.App) -> None:
        """Take jobs until cancelled (which drains). If the engine stops on its own (its
        database went away), start it again once the database answers."""
        while True:
            try:
                await engine.run_worker_async(
                    queues=jobs.queues_of(self.spec.labels),
                    name=self.spec.name,
                    concurrency=self.spec.slots,
                    install_signal_handlers=False,
                    update_heartbeat_interval=max(1.0, self.window / 4),
                    stalled_worker_timeout=self.window,
                    listen_notify=True,
                    fetch_job_polling_interval=5.0,
                    delete_jobs="successful",
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("the job engine stopped; starting it again", exc_info=True)
            await asyncio.sleep(1.0)

    async def _beat(self) -> None:
        last_host_beat = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(BEAT)
            try:
                self._flush()
                if loop.time() - last_host_beat >= max(1.0, self.window / 4):
                    last_host_beat = loop.time()
                    self._say_alive()
            except Exception:  # the database restarting: the next beat tries again
                log.warning("could not write this worker's heartbeats", exc_info=True)

    def _say_alive(self) -> None:
        """Beat under our name; drain when marked so (or when the name was taken over)."""
        with self.ledger.store.transaction() as tx:
            ours = hosts.beat(tx, self.me.name, self.me.pid, stamp(self.clock.now()))
            now = hosts.get(tx, self.me.name)
        if not ours or (now is not None and now.draining):
            self.draining.set()

    def _flush(self) -> None:
        """Write heartbeats and costs; stop every run the ledger no longer says is ours."""
        launch = self.launch
        if launch is None:
            return
        files, launch.unflushed = launch.unflushed, set()
        for transcript in files:
            transcript.flush()
        if launch.shipper is not None:
            launch.shipper.ship(self.ledger.store)
        beats, launch.beats = launch.beats, {}
        costs, launch.costs = launch.costs, {}
        with self.ledger.store.transaction() as tx:
            for run_id, at in beats.items():
                tx.heartbeat(run_id, at)
            for run_id, usd in costs.items():
                controls.set_live_cost(tx, run_id, usd)
            ours = {
                str(r[0])
                for r in tx.db.execute(
                    f"SELECT id FROM runs WHERE host = ? AND status IN ({_ACTIVE})",
                    (self.spec.name,),
                ).fetchall()
            }
            asked = hosts.stops_asked(tx, [r for r in self.handles if r in ours])
            hosts.forget_stops(tx, list(asked))
            me = hosts.get(tx, self.spec.name)
        if me is not None and me.draining:  # `gt worker --drain NAME`, noticed within a beat
            self.draining.set()
        for run_id, (reason, after) in asked.items():  # the leader's (a timeout, a person's)
            handle = self.handles[run_id]
            handle.stop_reason, handle.after_stop = reason, after
            handle.stop()
        for run_id, handle in list(self.handles.items()):
            if run_id not in ours and handle.pid is not None and handle.stop_reason is None:
                log.warning("run %s was taken from this worker; stopping its agent", run_id)
                handle.stop_reason = "the run was taken from this worker"
                handle.stop()


async def work(
    spec: WorkerSpec, environ: Mapping[str, str], on_ready: Callable[[str], None] | None = None
) -> None:
    """Run a worker until it has drained."""
    store, town = open_town(spec)
    try:
        for folder in ("rigs", "worktrees", "logs", "run"):
            (spec.home / folder).mkdir(parents=True, exist_ok=True, mode=0o700)
        await Worker(spec, store, town, environ).run(on_ready)
    finally:
        store.close()


def drain(db_url: str, name: str) -> bool:
    """Mark worker `name` of the town in `db_url` to drain; False if it has no such worker
    (or one sentence, as for `gt worker`, when there is no town there)."""
    store, _ = open_town(WorkerSpec(db_url, name, 1, Path(os.devnull)))
    try:
        with store.transaction() as tx:
            return hosts.set_draining(tx, name)
    finally:
        store.close()
