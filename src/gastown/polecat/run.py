"""One run, start to finish: worktree, prompt, agent process, transcript, mechanical completion.

    prepare   the worktree on `gt/<polecat>/<bead>` from the fresh target, the prompt, the spec
    start     the agent process, stdin closed, in its own process group
    stream    every line: events into the transcript, a heartbeat into the ledger
    finish    commit what was left; ahead of base and exit 0 → a merge request, bead in_review;
              anything else → a failed run, the bead back to open for a retry with backoff

Git and file work run in threads; ledger writes run on the event loop (they are short), so
one town process never shares a database connection between threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gastown import config
from gastown.errors import GastownError, RuntimeUnavailable, UserError
from gastown.git import worktree as wt
from gastown.model import RUNNING, STARTING, Run
from gastown.polecat.context import PolecatContext, load_prompt_context
from gastown.polecat.finish import hold_for_runtime, inspect_branch, record_finish
from gastown.polecat.prompt import render
from gastown.process import run_tokens
from gastown.record import Record, field
from gastown.runtimes import events as ev
from gastown.runtimes.base import LaunchRequest, ProcessSpec, StreamParser
from gastown.runtimes.registry import runtime as find_runtime
from gastown.services.ledger import Ledger
from gastown.town import Town

log = logging.getLogger("gastown.run")


GATHER_SECONDS = 0.25
"""How long output may wait in the pipe before the town reads it: transcripts and `gt peek`
lag by at most this much."""


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
    """Latest output time per active run; the town loop writes them all once a second."""
    unflushed: set[TextIO] = field(default_factory=set)
    """Transcripts written since the last flush; flushed with the heartbeats (twice a second)."""


class Handle(Record):
    """A run the supervisor can stop."""

    run: Run
    process: asyncio.subprocess.Process | None = None
    stop_reason: str | None = None
    after_stop: str | None = None
    """None when the town stopped it (a timeout: a failed attempt); `hold` or `requeue` when a
    person did (`gt agent stop` / `reset`): the attempt is given back either way."""


class Prepared(Record):
    """A run ready to start: how to start it, how to read it, where it writes."""

    spec: ProcessSpec
    parser: StreamParser
    transcript: Path
    base: str
    """The commit the branch is measured against."""
    identity: wt.Identity


async def run_polecat(launch: Launch, run: Run, handle: Handle, woke: Callable[[], None]) -> None:
    """Carry `run` from queued to ended. Never raises for the agent's failures: they are the
    run's outcome. `woke` is called at the end so the reconciler looks again at once."""
    ledger = launch.ledger
    try:
        _set(ledger, run, STARTING)
        with ledger.store.reader() as tx:
            ctx = load_prompt_context(tx, run)
        try:
            ready = await asyncio.to_thread(prepare, launch, run, ctx)
        except RuntimeUnavailable as exc:  # the program is missing: not the bead's fault
            hold_for_runtime(ledger, run, exc.message)
            return
        except GastownError as exc:
            record_finish(
                ledger, run, "", ctx.base_branch, None, [ev.Error(exc.message)], None, None
            )
            return
        try:
            exit_status, events = await _execute(launch, run, handle, ready)
        except OSError as exc:  # the program could not be executed at all
            failure: list[ev.Event] = [ev.Error(f"could not start the agent: {exc}")]
            record_finish(ledger, run, ready.base, ctx.base_branch, None, failure, None, None)
            return
        worktree = launch.town.path / run.worktree
        left = await asyncio.to_thread(inspect_branch, worktree, ready.base, ready.identity)
        record_finish(
            ledger,
            run,
            ready.base,
            ctx.base_branch,
            exit_status,
            events,
            left,
            handle.stop_reason,
            handle.after_stop,
        )
    except Exception:  # a bug of ours: end the run rather than leave its bead stuck
        log.exception("run %s failed inside the town process", run.id)
        failure = [ev.Error("internal error in the town process; see logs/town.log")]
        record_finish(ledger, run, "", "", None, failure, None, None)
    finally:
        woke()


def prepare(launch: Launch, run: Run, ctx: PolecatContext) -> Prepared:
    """Worktree, prompt and process spec for `run` (blocking, no ledger access: a thread)."""
    town = launch.town
    settings = config.resolve(town.settings, ctx.rig.settings, launch.environ)
    try:
        agent = find_runtime(run.runtime, path=launch.environ.get("PATH"))
    except UserError as exc:
        raise RuntimeUnavailable(exc.message, hint=exc.hint) from None
    identity = wt.polecat_identity(run.rig, run.polecat)
    worktree = town.path / run.worktree
    base = wt.prepare(town.path / ctx.rig.path, worktree, run.branch, ctx.base_branch, identity)
    run_dir = town.path / "logs" / "runs" / run.id
    run_dir.mkdir(parents=True, exist_ok=True)
    prompt = render(ctx.prompt(settings["custom_instructions.polecat"]), town.path)
    (run_dir / "prompt.md").write_text(prompt, encoding="utf-8")
    request = LaunchRequest(
        prompt=prompt,
        worktree=worktree,
        model=settings["role_models.polecat"] or settings["default_model"],
        base_url=settings["model_base_url"],
        api_key=settings["model_api_key"],
        env_vars=dict(settings["env_vars"]),
        run_dir=run_dir,
    )
    spec = agent.build(request)
    for path, text in spec.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
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
    return Prepared(spec, agent.parser(request), run_dir / "transcript.jsonl", base, identity)


async def _execute(
    launch: Launch, run: Run, handle: Handle, ready: Prepared
) -> tuple[int | None, list[ev.Event]]:
    """Start the agent and stream its output into the transcript until it exits."""
    ledger = launch.ledger
    spec, parser, transcript = ready.spec, ready.parser, ready.transcript
    run.transcript = str(transcript.relative_to(launch.town.path))
    process = await asyncio.create_subprocess_exec(
        *spec.argv,
        cwd=spec.cwd,
        env=spec.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=16 * 1024 * 1024,
    )
    handle.process = process
    run.pid, run.started_at = process.pid, ledger.now()
    _set(ledger, run, RUNNING, event="run.started")
    if handle.stop_reason is not None:  # stopped while it was being prepared
        stop_process(process)
    events: list[ev.Event] = []
    with transcript.open("a", encoding="utf-8") as out:

        def record(found: list[ev.Event]) -> None:
            """One stamp, one write and one heartbeat per chunk of output, not per line: with
            fifty agents streaming, per-line work is what the town process spends its time on."""
            if not found:
                return
            stamp = ledger.now()
            # Keep what the run's outcome and totals need, not every line of a long run.
            events.extend(e for e in found if e.kind in _KEPT)
            out.write("".join('{"at":"' + stamp + '",' + e.dumps()[1:] + "\n" for e in found))
            launch.beats[run.id] = stamp
            launch.unflushed.add(out)  # flushed with the heartbeats, within a second

        def stdout_lines(lines: list[str]) -> None:
            record([e for line in lines for e in parser.feed(line)])

        def stderr_lines(lines: list[str]) -> None:
            record([ev.Text(line, role="stderr") for line in lines if line.strip()])

        assert process.stdout is not None and process.stderr is not None
        await asyncio.gather(
            _pump(process.stdout, stdout_lines), _pump(process.stderr, stderr_lines)
        )
        exit_status = await process.wait()
        record(parser.finish(exit_status if exit_status >= 0 else None))
        launch.unflushed.discard(out)
    return (exit_status if exit_status >= 0 else None), events


async def _pump(stream: asyncio.StreamReader, take: Callable[[list[str]], None]) -> None:
    """Hand over complete lines as they arrive, as many as each read brings. After each read
    it waits a moment so lines gather in the pipe: one wake-up then carries many lines, which
    is what keeps fifty streaming agents cheap for the town process (the pipe holds 64 KiB,
    and an agent writing faster than that only waits for the next read)."""
    pending = b""
    while chunk := await stream.read(1 << 16):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if lines:
            take([line.decode("utf-8", errors="replace") for line in lines])
        await asyncio.sleep(GATHER_SECONDS)
    if pending:
        take([pending.decode("utf-8", errors="replace")])


def stop_process(process: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    """SIGTERM the agent's whole process group, SIGKILL it if it lingers past `grace`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    async def escalate() -> None:
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    asyncio.get_running_loop().create_task(escalate())


def _set(ledger: Ledger, run: Run, status: str, event: str | None = None) -> None:
    """Move an active run forward and record it."""
    with ledger.store.transaction() as tx:
        current = tx.get_run(run.id, lock=True)
        if current is None or not current.active:
            return
        expected = current.status
        run.status = status
        tx.update_run(run, expected)
        if event:
            tx.append_events(
                [
                    ledger.event(
                        event,
                        at=run.started_at,
                        bead_id=run.bead_id,
                        rig=run.rig,
                        after={"run": run.id, "pid": run.pid},
                    )
                ]
            )
