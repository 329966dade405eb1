"""One run, start to finish: worktree, prompt, agent process, transcript, mechanical completion.

    prepare   the worktree on `gt/<polecat>/<bead>` from the fresh target, the prompt, the spec
    start     the agent, stdin closed, in its own process group, its output going to files
    follow    every line: events into the transcript, a heartbeat into the ledger
    finish    commit what was left; ahead of base and exit 0 → a merge request, bead in_review;
              anything else → a failed run, the bead back to open for a retry with backoff

A run whose town process died is *adopted* by the next one: its agent kept running and writing
its files, so the new town follows them from where the transcript stopped (see `output`).
Git and file work run in threads; ledger writes run on the event loop (they are short), so
one town process never shares a database connection between threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from gastown import config
from gastown.errors import GastownError, RuntimeUnavailable, UserError
from gastown.forge.gitauth import authorize_url
from gastown.git import worktree as wt
from gastown.model import RUN_FAILED, RUN_STOPPED, RUNNING, STARTING, Bead, Run, RunStatus
from gastown.polecat import earlier, group
from gastown.polecat.context import PolecatContext, load_prompt_context, prompt_notes
from gastown.polecat.finish import (
    Finished,
    could_not_start,
    hold_for_runtime,
    inspect_branch,
    record_finish,
)
from gastown.polecat.output import Ending, Follower, Transcript, follow, spawn
from gastown.polecat.prompt import render
from gastown.polecat.remote import Remote
from gastown.polecat.session import Session
from gastown.polecat.shipping import Shipper
from gastown.polecat.transcript import append_outcome, transcript_file
from gastown.polecat.transcript import relative_path as transcript_path
from gastown.record import Record, field
from gastown.runtimes import events as ev
from gastown.runtimes import preflight
from gastown.runtimes.base import (
    AgentRuntime,
    LaunchRequest,
    ProcessSpec,
    StreamParser,
    write_files,
)
from gastown.runtimes.registry import runtime as find_runtime
from gastown.sections import sections
from gastown.services.ledger import Ledger
from gastown.town import Town
from gastown.townrun import run_tokens

log = logging.getLogger("gastown.run")

GATHER_SECONDS = 0.25
"""How often the town reads its agents' output files: transcripts and `gt peek` lag by at
most this much, and one read carries many lines."""

_KEPT = frozenset({"start", "usage", "cost", "error", "end"})


class Launch(Record):
    """What a started run needs from the town process."""

    town: Town
    ledger: Ledger
    api_url: str
    town_token: str
    environ: dict[str, str]
    """The town process's environment; the agent's is this plus the spec and ours."""
    beats: dict[str, str] = field(default_factory=dict)
    """Latest output time per active run; the town loop writes them all at once."""
    unflushed: set[Transcript] = field(default_factory=set)
    """Transcripts written since the last flush; flushed with the heartbeats."""
    costs: dict[str, float] = field(default_factory=dict)
    """What each active run has cost so far, by its usage events, when it changed: written
    with the heartbeats, so budgets can stop a run that is over its bead's."""
    remote: Remote | None = None
    """Set on a `gt worker`: the run's work goes to the rig's remote (see `polecat.remote`)."""
    shipper: Shipper | None = None
    """Set where other hosts read the ledger (a PostgreSQL town): transcripts are shipped
    to it in batches with the heartbeats, and in full before a run's end is recorded."""


class Handle(Record):
    """A run the supervisor can stop."""

    run: Run
    pid: int | None = None
    """The agent's process group (the wrapper's pid), once started."""
    stop_reason: str | None = None
    after_stop: str | None = None
    """Why it was stopped, which decides what its bead pays: None for the town's own stops (a
    timeout: a failed attempt); `hold` (`gt agent stop`: held, the attempt given back),
    `requeue` (`gt agent reset`: retried with its attempts reset) or `release` (`gt down`:
    requeued, the attempt given back)."""

    session: Session | None = None
    """The agent's stdin while it takes messages mid-run (where a nudge goes), else None."""

    def stop(self) -> None:
        if self.pid is not None:
            group.stop(self.pid, self.run.id)


class Prepared(Record):
    """A run ready to start: how to start it, how to read it, where it writes."""

    spec: ProcessSpec
    parser: StreamParser
    run_dir: Path
    base: str
    """The commit the branch is measured against."""
    identity: wt.Identity


def run_dir_of(town: Town, run: Run) -> Path:
    return town.path / "logs" / "runs" / run.id


async def run_polecat(launch: Launch, run: Run, handle: Handle, woke: Callable[[], None]) -> None:
    """Carry `run` from queued to ended. Never raises for the agent's failures: they are the
    run's outcome. `woke` is called at the end so the reconciler looks again at once."""
    ledger = launch.ledger
    try:
        _set(ledger, run, STARTING)
        with ledger.store.reader() as tx:
            ctx = load_prompt_context(tx, run)
            ctx.notes = prompt_notes(tx, ctx, launch.town.settings, launch.environ)
        target = ctx.base_branch
        try:
            ready = await asyncio.to_thread(prepare, launch, run, ctx)
        except RuntimeUnavailable as exc:  # missing, too old or misconfigured: not the bead's
            hold_for_runtime(ledger, run, exc.message)
            return
        except GastownError as exc:
            could_not_start(ledger, run, exc.message)
            return
        process = await spawn(ready.spec, ready.run_dir, tethered=launch.remote is not None)
        handle.pid = run.pid = process.pid
        if ready.spec.messages and process.stdin is not None:
            handle.session = Session(process.stdin)
            handle.session.send((ready.run_dir / "prompt.md").read_text("utf-8"))
        run.started_at = ledger.now()
        run.transcript = transcript_path(run.id)  # recorded now: peek follows from line one
        _set(ledger, run, RUNNING, event="run.started")
        if handle.stop_reason is not None:  # stopped while it was being prepared
            handle.stop()
        reaped = asyncio.get_running_loop().create_task(process.wait())
        follower = Follower(ready.run_dir)

        async def settle() -> None:
            """The wrapper has ended: nothing the agent started may outlive it and write on
            into a worktree the next run will get."""
            await reaped
            if handle.session is not None:
                handle.session.close()
            await group.empty(process.pid, run.id)

        exit_status, events = await _follow(
            launch,
            run,
            ready.parser,
            follower,
            lambda: not reaped.done(),
            [],
            settle,
            handle.session,
        )
        code = await reaped  # negative: the wrapper itself died of that signal
        ending = Ending(exit_status, -code if code < 0 and exit_status is None else None)
        await _finish(
            launch, run, handle, ready.base, target, ending, events, ready.identity, ctx.bead
        )
    except Exception:  # a bug of ours: end the run rather than leave its bead stuck
        log.exception("run %s failed inside the town process", run.id)
        await _end_internal(ledger, run, handle)
    finally:
        woke()


async def adopt_polecat(launch: Launch, run: Run, handle: Handle, woke: Callable[[], None]) -> None:
    """Follow a run started by a town process that is gone, its agent still running: replay
    what the transcript already holds into a fresh parser, then carry on from there."""
    ledger = launch.ledger
    handle.pid = run.pid  # first: a failure below still stops the agent before the run ends
    try:
        with ledger.store.reader() as tx:
            ctx = load_prompt_context(tx, run)
        target = ctx.base_branch
        run_dir = run_dir_of(launch.town, run)
        agent, request = _request(launch, run, ctx, (run_dir / "prompt.md").read_text("utf-8"))
        parser = agent.parser(request)
        follower = Follower(run_dir)
        events: list[ev.Event] = []
        replay = Follower(run_dir)
        replay.offsets = dict.fromkeys(replay.offsets, 0)
        for line in replay.read("stdout", upto=follower.offsets["stdout"]):
            events.extend(e for e in parser.feed(line) if e.kind in _KEPT)
        replay.close()
        pid = run.pid or 0

        async def settle() -> None:
            await group.empty(pid, run.id)

        exit_status, events = await _follow(
            launch, run, parser, follower, lambda: group.alive(pid, run.id), events, settle
        )
        base = (run_dir / "base").read_text().strip()
        identity = wt.polecat_identity(run.rig, run.polecat)
        ending = Ending(exit_status)
        await _finish(launch, run, handle, base, target, ending, events, identity, ctx.bead)
    except Exception:
        log.exception("adopted run %s failed inside the town process", run.id)
        await _end_internal(ledger, run, handle)
    finally:
        woke()


async def _end_internal(ledger: Ledger, run: Run, handle: Handle) -> None:
    """End a run the town itself failed: its agent is stopped first (the whole group), so
    the retry that follows never shares the worktree with it."""
    pid = handle.pid or run.pid
    if pid is not None:
        await group.empty(pid, run.id)
    else:  # never recorded: find it by its run id
        await asyncio.to_thread(group.kill_strays, run.id)
    could_not_start(ledger, run, "internal error in the town process; see logs/town.log")


def _request(
    launch: Launch, run: Run, ctx: PolecatContext, prompt: str
) -> tuple[AgentRuntime, LaunchRequest]:
    agents = sections(config.resolve(launch.town.settings, ctx.rig.settings, launch.environ)).agents
    try:
        agent = find_runtime(run.runtime, path=launch.environ.get("PATH"))
    except UserError as exc:
        raise RuntimeUnavailable(exc.message, hint=exc.hint) from None
    return agent, LaunchRequest(
        prompt=prompt,
        worktree=launch.town.path / run.worktree,
        # The model the bead was slung with wins over the settings'.
        model=ctx.bead.model or agents.polecat_model,
        base_url=agents.model_base_url,
        api_key=agents.model_api_key,
        env_vars=dict(agents.env_vars),
        run_dir=run_dir_of(launch.town, run),
        messages=True,
    )


def prepare(launch: Launch, run: Run, ctx: PolecatContext) -> Prepared:
    """Worktree, prompt and process spec for `run` (blocking, no ledger access: a thread)."""
    town = launch.town
    settings = config.resolve(town.settings, ctx.rig.settings, launch.environ)
    agent, request = _request(launch, run, ctx, "")  # the prompt once the worktree is ready
    try:  # a model missing or unreachable is the settings' fault, not the bead's
        preflight.check_settings(agent, request, launch.environ)
    except UserError as exc:
        raise RuntimeUnavailable(exc.message, hint=exc.hint) from None
    authorize_url(ctx.rig.url, settings, launch.environ)  # the fetch carries the forge token
    if launch.remote is not None:
        continued = bool(ctx.attempts) or ctx.rework is not None  # its branch may be pushed
        clone = town.path / ctx.rig.path
        launch.remote.prepare(clone, ctx.rig.url, ctx.rig.branch, run.branch, continued)
    else:  # a town folder that joined the town may lead without the rig's clone
        wt.ensure_clone(town.path / ctx.rig.path, ctx.rig.url, ctx.rig.branch)
    identity = wt.polecat_identity(run.rig, run.polecat)
    base = wt.prepare(
        town.path / ctx.rig.path,
        request.worktree,
        run.branch,
        ctx.base_branch,
        identity,
        create_from=ctx.rig.branch,
    )
    # Earlier attempts that ran on another host are read from the ledger, on a connection of
    # this thread's own: the town's is the event loop's alone.
    own = town.open_store() if launch.shipper is not None and ctx.attempts else None
    try:
        told = earlier.told(
            town.path, run, ctx.attempts, request.worktree, base, ctx.base_branch, ledger=own
        )
    finally:
        if own is not None:
            own.close()
    prompt = render(ctx.prompt(sections(settings).polecat.custom_instructions, told), town.path)
    request.prompt = prompt
    if ctx.rework is not None:  # measured from where the merge request stood
        base = ctx.rework.head_commit
    run_dir = run_dir_of(town, run)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "prompt.md").write_text(prompt, encoding="utf-8")
    (run_dir / "base").write_text(base + "\n")
    request.writable = wt.commit_folders(request.worktree)  # a sandboxed agent commits too
    spec = agent.build(request)
    write_files(spec)
    spec.env = {
        **launch.environ,
        **identity.env(),
        **spec.env,
        "PATH": str(Path(sys.executable).parent)
        + os.pathsep
        + launch.environ.get("PATH", os.defpath),
        "GT_API_URL": launch.api_url,
        "GT_RUN_TOKEN": run_tokens.mint(launch.town_token, run.id),
        "GT_RUN_ID": run.id,
        "GT_BEAD_ID": run.bead_id,
        "GT_TOWN": str(town.path),
        "GT_ACTOR": f"{run.rig}/polecat/{run.polecat}",
        "PWD": str(spec.cwd),  # some CLIs (opencode) take their project folder from $PWD
    }
    return Prepared(spec, agent.parser(request), run_dir, base, identity)


async def _follow(
    launch: Launch,
    run: Run,
    parser: StreamParser,
    follower: Follower,
    running: Callable[[], bool],
    events: list[ev.Event],
    settle: Callable[[], Awaitable[None]],
    session: Session | None = None,
) -> tuple[int | None, list[ev.Event]]:
    """Turn the agent's output into transcript events until it ends; its stdin, if open, is
    closed when it says its turn is over."""
    ledger = launch.ledger
    path = follower.run_dir / "transcript.jsonl"
    run.transcript = str(path.relative_to(launch.town.path))
    cost = sum(e.usd for e in events if isinstance(e, ev.Cost))
    with path.open("a", encoding="utf-8") as out:
        transcript = Transcript(out, follower)

        def record(found: list[ev.Event]) -> None:
            """One stamp, one write and one heartbeat per read, not per line: with fifty
            agents streaming, per-line work is what the town process spends its time on."""
            if not found:
                return
            stamp = ledger.now()
            # Keep what the run's outcome and totals need, not every line of a long run.
            events.extend(e for e in found if e.kind in _KEPT)
            out.write("".join('{"at":"' + stamp + '",' + e.dumps()[1:] + "\n" for e in found))
            launch.beats[run.id] = stamp
            launch.unflushed.add(transcript)
            if launch.shipper is not None:
                launch.shipper.pending(run.id, path)
            if spent := sum(e.usd for e in found if isinstance(e, ev.Cost)):
                nonlocal cost
                cost += spent
                launch.costs[run.id] = cost

        def take(stream: str, lines: list[str]) -> None:
            if stream == "stdout":
                record([e for line in lines for e in parser.feed(line)])
                if session is not None and parser.turn_ended:
                    session.close()
            else:
                record([ev.Text(line, role="stderr") for line in lines if line.strip()])

        exit_status = await follow(follower, running, take, GATHER_SECONDS, settle)
        record(parser.finish(exit_status))
        launch.unflushed.discard(transcript)
        transcript.flush()
    return exit_status, events


async def _finish(
    launch: Launch,
    run: Run,
    handle: Handle,
    base: str,
    target: str,
    ending: Ending,
    events: list[ev.Event],
    identity: wt.Identity,
    bead: Bead,
) -> None:
    worktree = launch.town.path / run.worktree
    left = await asyncio.to_thread(inspect_branch, worktree, base, identity, bead)
    # Beside `base`: the run's own commits stay nameable after its branch moves on.
    (run_dir_of(launch.town, run) / "head").write_text(left.head + "\n")
    remote = launch.remote
    if remote is not None and left.ahead:
        try:  # the merge request's commit must be where the leader can fetch it
            await asyncio.to_thread(remote.publish, worktree, run, left.head)
        except GastownError as exc:
            could_not_start(launch.ledger, run, exc.message)
            return
    finished = Finished(events, ending, left, base, target)
    if launch.shipper is not None:  # every line, while the run may still add to the ledger
        launch.shipper.pending(run.id, run_dir_of(launch.town, run) / "transcript.jsonl")
        launch.shipper.ship(launch.ledger.store)
        launch.shipper.forget(run.id)
    record_finish(launch.ledger, run, finished, handle.stop_reason, handle.after_stop)
    if remote is not None and left.ahead and not run.active:  # the ledger took this end
        await asyncio.to_thread(remote.settle, worktree, run, left.head)
    _verdict(launch, run)


def _verdict(launch: Launch, run: Run) -> None:
    """A run that failed or was stopped ends its transcript saying so."""
    if run.status in (RUN_FAILED, RUN_STOPPED) and run.ended_at and run.outcome:
        path = transcript_file(launch.town.path, run.id, run.transcript)
        append_outcome(path, run.ended_at, run.status, run.outcome)


def _set(ledger: Ledger, run: Run, status: RunStatus, event: str | None = None) -> None:
    """Move an active run forward and record it."""
    with ledger.store.transaction() as tx:
        current = tx.get_run(run.id, lock=True)
        if current is None or not current.active:
            return
        expected = current.status
        run.status = status
        tx.update_run(run, expected)
        if event:
            ledger.record_event(
                tx,
                event,
                at=run.started_at,
                bead_id=run.bead_id,
                rig=run.rig,
                after={"run": run.id, "pid": run.pid},
            )
