"""What a retry knows of the attempts before it, and where it starts.

A bead's next attempt is told what the earlier ones came to: each one's outcome, the last lines
of the latest one's transcript (or the gate output and review that failed its merge request),
the last checkpoint an attempt saved (`gt checkpoint`) and the commits it left.

Where it starts is `polecat.retry_from`. With `previous` (the default) a retry continues on the
branch its last attempt left, so a run that crashed, stalled or ran out of time after
committing half the work is not started over. A merge request already took that work when the
refinery judged it (it failed, or it landed and the bead was reopened): then, as with `fresh`,
the retry starts from the target on a branch of its own, and the earlier branch stays as it
was for anyone to read.
"""

from __future__ import annotations

import json
from pathlib import Path

from gastown.git.repo import git
from gastown.model import MergeRequest, Run, run_branch
from gastown.polecat.conversation import Conversation, as_text, short
from gastown.polecat.transcript import Source, event_of
from gastown.record import Record
from gastown.store import Store, Tx

PREVIOUS = "previous"
FRESH = "fresh"

LISTED = 10
"""Earlier attempts listed, the latest; older ones are counted."""
LINES = 8
"""Lines of the latest attempt's transcript shown (its conversation, not its raw events)."""
LINE_WIDTH = 160
GATE_LINES = 12
CHECKPOINT_CHARS = 600
COMMITS = 10
BUDGET = 8000
"""Characters of the whole section: past this it is cut, so a retry's prompt stays small."""

_QUIET = frozenset({"spent", "unread", "start"})
"""Conversation lines that say nothing about why an attempt failed."""


class Attempt(Record):
    """An earlier, ended run of the bead and the merge request its work became, if any."""

    run: Run
    mr: MergeRequest | None = None


class Start(Record):
    """Where a retry starts, as `prepare` found it: the branch and the commits already on it."""

    branch: str
    target: str
    """The target branch's name (the commits are counted from its fresh tip)."""
    commits: list[str]
    """`<short hash> <subject>` of each commit the branch has over the target, newest first."""


def earlier_attempts(tx: Tx, run: Run) -> list[Attempt]:
    """The bead's runs that ended before `run`, oldest first, each with its merge request."""
    taken = {m.run_id: m for m in tx.list_merge_requests(bead_id=run.bead_id) if m.run_id}
    return [
        Attempt(r, taken.get(r.id))
        for r in tx.list_runs(bead_id=run.bead_id)
        if r.id != run.id and r.ended_at is not None
    ]


def retry_branch(tx: Tx, bead_id: str, polecat: str, retry_from: str) -> str:
    """The branch the bead's next run works on: its last attempt's (`previous`, when no merge
    request took that work), else `gt/<polecat>/<bead-id>`, or, when an earlier run already
    used that name, `gt/<polecat>/attempt-<n>/<bead-id>`."""
    runs = tx.list_runs(bead_id=bead_id)
    ended = [r for r in runs if r.ended_at is not None]
    if retry_from == PREVIOUS and ended:
        last = ended[-1]
        judged = any(m.run_id == last.id for m in tx.list_merge_requests(bead_id=bead_id))
        if not judged:
            return last.branch
    used = {r.branch for r in runs}
    name, n = run_branch(polecat, bead_id), len(runs) + 1
    while name in used:
        name = f"gt/{polecat}/attempt-{n}/{bead_id}"
        n += 1
    return name


def commits_over(worktree: Path, base: str) -> list[str]:
    """What the worktree's branch has that `base` (a commit) has not, newest first."""
    found = git(
        "log", f"--max-count={COMMITS + 1}", "--format=%h %s", f"{base}..HEAD", cwd=worktree
    )
    return found.out.splitlines()


def told(
    town: Path,
    run: Run,
    attempts: list[Attempt],
    worktree: Path,
    base: str,
    target: str,
    *,
    ledger: Store | None = None,
) -> str:
    """The section for a run whose worktree `prepare` has put on its branch, `base` being the
    target's fresh tip ("" for a first attempt). An attempt that ran on another host is read
    from the transcript it shipped to `ledger` (None: from this host's files alone)."""
    if not attempts:
        return ""
    start = Start(run.branch, target, commits_over(worktree, base))
    return section(town, run, attempts, start, ledger=ledger)


def section(
    town: Path,
    run: Run,
    attempts: list[Attempt],
    start: Start,
    *,
    ledger: Store | None = None,
) -> str:
    """The prompt's account of the earlier attempts and where this one starts ("" for a
    first attempt)."""
    if not attempts:
        return ""
    latest = attempts[-1]
    parts = [
        f"This is attempt {run.attempt} at this bead. The earlier ones did not finish it: "
        "read what they came to, build on what worked and do not repeat what failed."
    ]
    listed = attempts[-LISTED:]
    if len(attempts) > LISTED:
        parts.append(f"({len(attempts) - LISTED} older attempts not listed.)")
    parts.append("\n".join(_heading(a) for a in listed))
    parts.extend(_details(town, latest, ledger))
    saved = next((a.run for a in reversed(attempts) if a.run.checkpoint), None)
    if saved is not None:
        kept = short(json.dumps(saved.checkpoint, ensure_ascii=False), CHECKPOINT_CHARS)
        parts.append(f"The last checkpoint, saved by attempt {saved.attempt}:\n\n    {kept}")
    parts.append(_where(latest, start))
    text = "\n\n".join(parts)
    return text if len(text) <= BUDGET else text[: BUDGET - 1] + "…"


def _heading(a: Attempt) -> str:
    r = a.run
    when = str(r.ended_at)[:16].replace("T", " ")
    line = f"- Attempt {r.attempt} (run {r.id}, {r.polecat}, ended {when} UTC): {r.status}, "
    line += short(r.outcome or "no reason recorded", 200)
    if a.mr is not None:
        line += f"; its merge request {a.mr.id} is {a.mr.status}"
        if a.mr.note:
            line += f" ({short(a.mr.note, 200)})"
    return line + "."


def _details(town: Path, a: Attempt, ledger: Store | None) -> list[str]:
    """What the latest attempt said last, and what failed its merge request."""
    r = a.run
    out = []
    if r.status_text:
        out.append(f"Its last status: {short(r.status_text, LINE_WIDTH)}")
    if lines := last_lines(town, r, ledger=ledger):
        said = "\n".join(f"    {line}" for line in lines)
        out.append(f"The last lines of attempt {r.attempt}'s transcript:\n\n{said}")
    if a.mr is not None:
        out.extend(_judged(a.mr))
    return out


def last_lines(
    town: Path, run: Run, count: int = LINES, *, ledger: Store | Tx | None = None
) -> list[str]:
    """The last lines of a run's conversation, one line each (tool calls with their
    results, what it said, its errors and the town's verdict), read from this host's file
    or, for a run on another host, from what it shipped to `ledger`."""
    raw, _ = Source(town, run.id, run.transcript, ledger).tail_lines(12 * count)
    talk = Conversation()
    folded = talk.feed_all([event_of(line) for line in raw]) + talk.flush()
    kept = [as_text(line) for line in folded if line.kind not in _QUIET]
    return [short(line, LINE_WIDTH) for line in kept[-count:]]


def _judged(mr: MergeRequest) -> list[str]:
    out = []
    failed = next((g for g in mr.gates if not g.get("ok") and not g.get("excused")), None)
    if failed is not None:
        tail = str(failed.get("log_tail", "")).splitlines()[-GATE_LINES:]
        shown = "\n".join(f"    {short(line, LINE_WIDTH)}" for line in tail)
        out.append(
            f"The gate `{failed.get('command')}` failed its merge request "
            f"(exit {failed.get('exit')}); the end of its output:\n\n{shown}"
        )
    if mr.verdict == "changes" and mr.review:
        said = short(str(mr.review.get("summary", "")), 400)
        out.append(f"The reviewer asked for changes: {said}")
    return out


def _where(latest: Attempt, start: Start) -> str:
    left = latest.run.branch
    if start.branch == left:
        if not start.commits:
            return (
                f"You continue on its branch {left}, which has no commits over {start.target} yet."
            )
        shown = "\n".join(f"    {c}" for c in start.commits[:COMMITS])
        more = " (and older ones)" if len(start.commits) > COMMITS else ""
        return (
            f"You continue its work: your branch {left} already has these commits over "
            f"{start.target}{more}:\n\n{shown}\n\nLook at them (`git log`, `git diff "
            f"{start.target}...HEAD`) before you change anything, and keep what is right."
        )
    why = (
        f"a merge request already took its work ({latest.mr.id})"
        if latest.mr is not None
        else "this town's polecat.retry_from is fresh"
    )
    return (
        f"You start afresh from {start.target} on {start.branch}, because {why}. Its branch "
        f"{left} is kept as it was (`git log {left}`) if you want to read it."
    )
