"""The agent reviewer: the rig's agent runtime reads the change and ends with its verdict.

    checkout  a detached worktree of the rig's clone at the change's head, in a temporary
              folder (no branch is made or moved), removed when the review ends
    run       the runtime's CLI once, as a polecat's run starts, with the review prompt; its
              output and transcript go to the step's log folder, and at the timeout, or as
              soon as the refinery stops (`gt down`), its whole process group is killed
    verdict   the last JSON object with a `decision` in the agent's final message (its summary,
              else its last text), checked by `parse_verdict`

A timeout, a file changed or a commit made in the worktree, a failed run, or no verdict is a
`ReviewFailed` in one sentence: the step tries again later and finally asks a person. A review
cut short by the refinery stopping decides nothing: the merge request waits for the next step,
no attempt counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gastown import config
from gastown.errors import GitError, UserError
from gastown.git import worktree as wt
from gastown.git.repo import git
from gastown.record import Record, replace
from gastown.refinery.gates import wait_for
from gastown.refinery.review import (
    ROLE,
    ReviewFailed,
    ReviewRequest,
    Verdict,
    failing,
    parse_verdict,
)
from gastown.runtimes import preflight
from gastown.runtimes.base import AgentRuntime, LaunchRequest, write_files
from gastown.runtimes.events import End, Error, Event, Text, Usage, totals
from gastown.runtimes.registry import runtime as find_runtime
from gastown.sections import sections

ANSWER = """# How to answer

The change is checked out, at its head, in your working folder: read whatever helps you judge \
it, and run read-only commands if you like. Change no file and make no commit; this is a \
review, and a reviewer that edits the worktree is not listened to.

End your last message with your verdict as one JSON object, with nothing after it:

{"decision": "approve" or "request_changes", "summary": "one or two sentences: why", \
"comments": [{"path": "calc.py", "line": 4, "body": "what is wrong and what to do"}]}

Tie comments to a file and line where you can (`comments` may be empty when you approve). Ask \
for changes only for real problems, not for taste."""


def review_prompt(request: ReviewRequest) -> str:
    """What the reviewer agent is told: its role, the task and the diff, how to answer."""
    return "\n\n".join([ROLE, request.prompt(), ANSWER])


class Ran(Record):
    """One reviewer run, as its output tells it."""

    events: list[Event]
    """What the runtime's parser made of stdout, ending with `End`."""
    timed_out: bool = False


class AgentReviewer:
    """Review by running the rig's `runtime` once on a read-only worktree of the change."""

    def __init__(self, settings: config.Resolved, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        read = sections(settings)
        self.agents = read.agents
        self.timeout = float(read.refinery.gate_timeout_seconds)
        # The agent's environment, under the spec's own; its PATH is where the runtime is found.
        self.environ = dict(os.environ if environ is None else environ)

    def review(self, request: ReviewRequest) -> Verdict:
        if request.clone is None or request.logs is None or not request.head:
            raise ReviewFailed("The agent reviewer was not told where the change is.")
        try:
            agent = find_runtime(self.agents.runtime, path=self.environ.get("PATH"))
        except UserError as exc:
            raise ReviewFailed(f"The reviewer agent cannot start: {exc.message}") from None
        timeout = self.timeout
        try:
            with checkout(request.clone, request.head) as worktree:
                launch = LaunchRequest(
                    prompt=review_prompt(request),
                    worktree=worktree,
                    model=self.agents.refinery_model,
                    base_url=self.agents.model_base_url,
                    api_key=self.agents.model_api_key,
                    env_vars=dict(self.agents.env_vars),
                    role="refinery",
                    run_dir=request.logs,
                )
                try:  # no model, or a model server that is down: say so, start nothing
                    preflight.check_settings(agent, launch, self.environ)
                except UserError as exc:
                    raise ReviewFailed(f"The reviewer agent cannot start: {exc.message}") from None
                ran = run_once(agent, launch, self.environ, timeout, request.stop)
                changed = changes(worktree, request.head)
        except GitError as exc:
            raise ReviewFailed(f"The reviewer's worktree failed: {exc.message}") from None
        return verdict_of(ran, changed, timeout, self.agents.runtime)


@contextmanager
def checkout(clone: Path, head: str) -> Iterator[Path]:
    """A detached worktree of `clone` at `head` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gt-review-", ignore_cleanup_errors=True) as folder:
        path = Path(folder) / "change"
        with wt.clone_lock(clone):  # the clone's worktree list is shared with dispatches
            git("worktree", "add", "--quiet", "--detach", str(path), head, cwd=clone)
        try:
            yield path
        finally:
            with wt.clone_lock(clone):
                git("worktree", "remove", "--force", str(path), cwd=clone, check=False)


def run_once(
    agent: AgentRuntime,
    launch: LaunchRequest,
    environ: Mapping[str, str],
    timeout: float,
    stop: threading.Event | None = None,
) -> Ran:
    """Start the agent as a polecat's run starts (stdin closed, its own process group), wait
    for it, and parse what it printed; the transcript goes next to its output. Setting `stop`
    kills it and raises `gates.Stopped`."""
    assert launch.run_dir is not None
    logs = launch.run_dir
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "prompt.md").write_text(launch.prompt, encoding="utf-8")
    spec = agent.build(launch)
    write_files(spec)
    env = {**environ, **spec.env, "PWD": str(spec.cwd)}
    with (logs / "stdout.log").open("wb") as out, (logs / "stderr.log").open("wb") as err:
        proc = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        code = wait_for(proc, time.monotonic() + timeout, stop)
    parser = agent.parser(launch)
    lines = (logs / "stdout.log").read_text("utf-8", errors="replace").splitlines()
    events = [e for line in lines for e in parser.feed(line)]
    events += parser.finish(code if code is not None and code >= 0 else None)
    with (logs / "transcript.jsonl").open("w", encoding="utf-8") as transcript:
        transcript.writelines(e.dumps() + "\n" for e in events)
    return Ran(events, timed_out=code is None)


def changes(worktree: Path, head: str) -> list[str]:
    """What the agent changed in the worktree: tracked files by path, and a commit if it made
    one. New untracked files (a test run's caches) change nothing that could land."""
    status = git("status", "--porcelain", "--untracked-files=no", cwd=worktree).out
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    if wt.head(worktree) != head:
        changed.append("a new commit")
    return changed


def verdict_of(ran: Ran, changed: list[str], timeout: float, runtime: str) -> Verdict:
    """The checked verdict of a run on `runtime`, or the one reason it gives none (carrying
    what the run spent all the same)."""
    spent = totals(ran.events)
    cache = spent.cache_read_tokens + spent.cache_write_tokens
    used = Verdict(
        "",
        "",
        input_tokens=spent.input_tokens + cache,
        output_tokens=spent.output_tokens,
        cache_tokens=cache,
        cost_usd=spent.cost_usd,
        model=next(
            (e.model for e in reversed(ran.events) if isinstance(e, Usage) and e.model), None
        ),
        runtime=runtime,
    )
    try:
        found = _verdict(ran, changed, timeout)
    except ReviewFailed as exc:
        raise failing(exc, used) from None
    return replace(used, decision=found.decision, summary=found.summary, comments=found.comments)


def _verdict(ran: Ran, changed: list[str], timeout: float) -> Verdict:
    end = ran.events[-1]
    assert isinstance(end, End)
    if ran.timed_out:
        raise ReviewFailed(f"The reviewer agent took longer than {timeout:.0f} s and was stopped.")
    if changed:
        shown = ", ".join(changed[:5]) + (", …" if len(changed) > 5 else "")
        raise ReviewFailed(f"The reviewer agent changed the worktree it was to read: {shown}.")
    if not end.ok:
        errors = [e.message for e in ran.events if isinstance(e, Error)]
        why = f": {errors[-1][:200]}" if errors else ""
        raise ReviewFailed(f"The reviewer agent failed (exit {end.exit_status}){why}.")
    texts = [e.text for e in ran.events if isinstance(e, Text) and e.role == "assistant"]
    said = end.summary or (texts[-1] if texts else "")
    found = last_verdict(end.summary) or last_verdict(texts[-1] if texts else "")
    if found is None:
        shown = said.strip().replace("\n", " ")[:200]
        raise ReviewFailed(f"The reviewer agent ended without a verdict: {shown!r}.")
    return parse_verdict(found)


def last_verdict(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in `text` that has a `decision` (in a code fence or not)."""
    decoder = json.JSONDecoder()
    found = None
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and "decision" in value:
            found = value
        start = text.find("{", end)
    return found
