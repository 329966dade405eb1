"""The records of a town: the glossary, in code.

A **town** is one ledger (this module's records in a state store) plus rig clones, worktrees and
settings on disk. Everything here is plain data; behaviour lives in `services`.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from gastown.record import Record, field

# --- beads --------------------------------------------------------------------------------

OPEN: Final = "open"
IN_PROGRESS: Final = "in_progress"
IN_REVIEW: Final = "in_review"
CLOSED: Final = "closed"
FAILED: Final = "failed"

BeadStatus = Literal["open", "in_progress", "in_review", "closed", "failed"]
"""A bead's status, so the type checker catches a misspelt one."""
BEAD_STATUSES: Final[tuple[BeadStatus, ...]] = (OPEN, IN_PROGRESS, IN_REVIEW, CLOSED, FAILED)
"""Lifecycle: open → in_progress → in_review → closed, or failed."""

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    OPEN: frozenset({IN_PROGRESS, CLOSED, FAILED}),
    IN_PROGRESS: frozenset({OPEN, IN_REVIEW, CLOSED, FAILED}),
    IN_REVIEW: frozenset({IN_PROGRESS, OPEN, CLOSED, FAILED}),
    CLOSED: frozenset({OPEN}),
    FAILED: frozenset({OPEN}),
}
"""Every legal status change. Anything else is an `IllegalTransition`."""

BEAD_TYPES: Final = ("task", "bug", "feature", "chore", "epic")
PRIORITIES: Final = range(5)
DEFAULT_PRIORITY: Final = 2

# --- dependencies -------------------------------------------------------------------------

BLOCKS: Final = "blocks"
PARENT_CHILD: Final = "parent-child"
RELATED: Final = "related"
DISCOVERED_FROM: Final = "discovered-from"
DEP_TYPES: Final = (BLOCKS, PARENT_CHILD, RELATED, DISCOVERED_FROM)

# --- convoys ------------------------------------------------------------------------------

CONVOY_OPEN: Final = "open"
CONVOY_LANDED: Final = "landed"
CONVOY_CANCELLED: Final = "cancelled"
CONVOY_FAILED: Final = "failed"
CONVOY_STATUSES: Final = (CONVOY_OPEN, CONVOY_LANDED, CONVOY_CANCELLED, CONVOY_FAILED)

REVIEW_THEN_LAND: Final = "review-then-land"
REVIEW_AND_MERGE: Final = "review-and-merge"
MERGE_MODES: Final = (REVIEW_THEN_LAND, REVIEW_AND_MERGE)


class Dependency(Record):
    """An edge: `bead_id` depends on `depends_on_id` in the way `type` says."""

    bead_id: str
    """The dependent bead (for `parent-child`, the child)."""
    depends_on_id: str
    """The blocker (for `parent-child`, the parent)."""
    type: str = BLOCKS
    """One of `DEP_TYPES`; only `blocks` and `parent-child` affect readiness (a blocked parent
    blocks its children, and a parent waits for its unclosed children)."""
    created_at: str = ""
    """When the edge was added (RFC 3339, UTC)."""
    created_by: str = ""
    """Who added it."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {
            "bead_id": self.bead_id,
            "depends_on_id": self.depends_on_id,
            "type": self.type,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


class Bead(Record):
    """A unit of work with a lifecycle."""

    id: str
    """Short hash with the town prefix (`gt-4k2x9`); children are `PARENT.N`."""
    title: str
    """One line saying what is to be done."""
    body: str = ""
    """The full description an agent works from."""
    type: str = "task"
    """One of `BEAD_TYPES`."""
    priority: int = DEFAULT_PRIORITY
    """0 (highest) to 4."""
    status: BeadStatus = OPEN
    """One of `BEAD_STATUSES`; changed only along `TRANSITIONS`."""
    rig: str | None = None
    """The rig (repository) the work is for."""
    assignee: str | None = None
    """Who holds it: a polecat name or a person."""
    held: bool = False
    """A held bead is never dispatched, whatever else is true of it."""
    slung: bool = False
    """Marked for dispatch to a polecat (by `gt sling` or a started convoy)."""
    runtime: str | None = None
    """Agent runtime asked for at sling time; `None` means the rig's setting."""
    model: str | None = None
    """Model asked for at sling time; `None` means the settings' (`role_models.polecat`, else
    `default_model`)."""
    convoy_id: str | None = None
    """The convoy this bead belongs to, if any."""
    labels: list[str] = field(default_factory=list)
    """Free-form tags, sorted."""
    created_at: str = ""
    """When it was made (RFC 3339, UTC)."""
    updated_at: str = ""
    """When any field last changed."""
    started_at: str | None = None
    """When it first went in_progress."""
    closed_at: str | None = None
    """Set exactly when status is `closed`."""
    close_reason: str | None = None
    """Why it closed. On an `in_review` bead: why it will close once its open children have
    (its work landed after a child was added to it)."""
    created_by: str = ""
    """Who made it: a person, `mayor`, a polecat or an import."""
    version: int = 1
    """Bumped on every write; lets readers notice a lost race."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields from an imported beads JSONL line that Gas Town does not model, kept verbatim."""
    dependencies: list[Dependency] = field(default_factory=list)
    """Edges out of this bead (what it depends on)."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "status": self.status,
            "priority": self.priority,
            "type": self.type,
            "labels": self.labels,
            "rig": self.rig,
            "assignee": self.assignee,
            "held": self.held,
            "slung": self.slung,
            "runtime": self.runtime,
            "model": self.model,
            "convoy_id": self.convoy_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "closed_at": self.closed_at,
            "close_reason": self.close_reason,
            "created_by": self.created_by,
            "dependencies": [d.to_json() for d in self.dependencies],
        }


class Convoy(Record):
    """A group of beads, possibly depending on each other, that lands together."""

    id: str
    """Short hash with the town prefix, from the same space as bead ids."""
    title: str
    """One line saying what the convoy delivers."""
    rig: str
    """The rig every bead of the convoy works on."""
    status: str = CONVOY_OPEN
    """`open`, `landed` (every bead closed, its work on the target), `cancelled` (closed by a
    person before its work landed: `gt convoy close --force`) or `failed`."""
    staged: bool = False
    """A staged convoy's beads are not dispatched until `gt convoy start`."""
    merge_mode: str = REVIEW_THEN_LAND
    """How the refinery lands it: all at once from a feature branch, or bead by bead."""
    created_at: str = ""
    """When it was made (RFC 3339, UTC)."""
    updated_at: str = ""
    """When any field last changed."""
    landed_at: str | None = None
    """When it landed; None unless `landed`."""
    cancelled_at: str | None = None
    """When it was cancelled; None unless `cancelled`."""
    close_reason: str | None = None
    """Why it was closed or cancelled, when a person said."""
    created_by: str = ""
    """Who made it."""
    total: int = 0
    """Beads in the convoy (derived)."""
    closed: int = 0
    """Of those, closed (derived)."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {
            "id": self.id,
            "title": self.title,
            "rig": self.rig,
            "status": self.status,
            "staged": self.staged,
            "merge_mode": self.merge_mode,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "landed_at": self.landed_at,
            "cancelled_at": self.cancelled_at,
            "close_reason": self.close_reason,
            "created_by": self.created_by,
            "progress": {"closed": self.closed, "total": self.total},
        }


class Rig(Record):
    """A repository connection with its canonical clone inside the town."""

    name: str
    """Unique in the town; names the rig in commands, settings and beads."""
    url: str
    """Where it was cloned from: a path, `file://` URL or remote URL."""
    branch: str
    """The target branch work lands on."""
    path: str
    """The canonical clone, relative to the town folder."""
    created_at: str = ""
    """When it was added (RFC 3339, UTC)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Per-rig setting overrides (dotted keys)."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {
            "name": self.name,
            "url": self.url,
            "branch": self.branch,
            "path": self.path,
            "created_at": self.created_at,
            "settings": self.settings,
        }


class Event(Record):
    """An append-only record of one change: who did what to which record, and why."""

    id: int
    """Its place in the history: numbered by the store, in order."""
    at: str
    """When it happened (RFC 3339, UTC)."""
    actor: str
    """Who did it: a person, a polecat, or a part of the town (`mayor`, `refinery`, `town`, ...)."""
    kind: str
    """Dotted: `bead.created`, `bead.status_changed`, `convoy.started`, `config.set`, ..."""
    bead_id: str | None = None
    """The bead it changed, if any."""
    convoy_id: str | None = None
    """The convoy it changed, if any."""
    rig: str | None = None
    """The rig it happened in, if any."""
    before: dict[str, Any] | None = None
    """The fields it changed, as they were (None: nothing before)."""
    after: dict[str, Any] | None = None
    """The fields it changed, as they became."""
    reason: str | None = None
    """Why, in words, when the actor said."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "kind": self.kind,
            "bead_id": self.bead_id,
            "convoy_id": self.convoy_id,
            "rig": self.rig,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


# --- polecats, runs, escalations ----------------------------------------------------------

IDLE: Final = "idle"
WORKING: Final = "working"
STOPPED: Final = "stopped"
POLECAT_STATES: Final = (IDLE, WORKING, STOPPED)
"""idle (free for the next bead) → working (one run) → idle; `stopped` by a person, not reused."""

QUEUED: Final = "queued"
STARTING: Final = "starting"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
RUN_FAILED: Final = "failed"
RUN_STOPPED: Final = "stopped"
LOST: Final = "lost"
ACTIVE_RUN_STATUSES: Final = (QUEUED, STARTING, RUNNING)
"""A bead, and a polecat, has at most one run in one of these at a time (the store says so)."""
ENDED_RUN_STATUSES: Final = (SUCCEEDED, RUN_FAILED, RUN_STOPPED, LOST)
FAILED_RUN_STATUSES: Final = (RUN_FAILED, LOST)
"""Endings that count against a bead's attempts and towards the circuit breaker."""
RUN_STATUSES: Final = ACTIVE_RUN_STATUSES + ENDED_RUN_STATUSES
RunStatus = Literal["queued", "starting", "running", "succeeded", "failed", "stopped", "lost"]
"""A run's status."""
RUN_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    QUEUED: frozenset({STARTING, RUNNING, *ENDED_RUN_STATUSES}),
    STARTING: frozenset({RUNNING, *ENDED_RUN_STATUSES}),
    RUNNING: frozenset(ENDED_RUN_STATUSES),
    **{ended: frozenset() for ended in ENDED_RUN_STATUSES},
}
"""A run only moves forward; an ended run is history and never runs again."""

Severity = Literal["low", "medium", "high", "critical"]
"""How urgent an escalation is."""
SEVERITIES: Final[tuple[Severity, ...]] = ("low", "medium", "high", "critical")


def run_branch(polecat: str, bead_id: str) -> str:
    """The branch a run works on: `gt/<polecat>/<bead-id>`."""
    return f"gt/{polecat}/{bead_id}"


class Polecat(Record):
    """A coding agent with a name from the pool; works one bead at a time and is reused."""

    name: str
    """From the town's name pool (`birch`), then `polecat-N`; unique in the town."""
    rig: str
    """The rig of its current or last work."""
    state: str = IDLE
    """One of `POLECAT_STATES`."""
    bead_id: str | None = None
    """The bead it works on while `working`."""
    run_id: str | None = None
    """Its current (or last) run."""
    worktree: str | None = None
    """Its worktree for `rig`, relative to the town folder; kept and reused between beads."""
    created_at: str = ""
    """When it was first named (RFC 3339, UTC)."""
    updated_at: str = ""
    """When its state last changed."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {name: getattr(self, name) for name in self.__fields__}


class Run(Record):
    """One attempt of one polecat on one bead: the process, its output and its outcome."""

    id: str
    """Unique in the town; names the run in commands, URLs and the ledger."""
    bead_id: str
    """The bead it works on."""
    polecat: str
    """The polecat that runs it."""
    rig: str
    """The bead's rig."""
    runtime: str
    """The agent runtime (`claude`, `codex`, ..., `scripted`)."""
    branch: str
    """`gt/<polecat>/<bead-id>` (see `run_branch`)."""
    worktree: str
    """Where the agent works, relative to the town folder."""
    attempt: int = 1
    """1 for a bead's first dispatch, 2 for its first retry, ..."""
    status: RunStatus = QUEUED
    """One of `RUN_STATUSES`; only queued → starting → running → an ended status."""
    pid: int | None = None
    """The agent process, once started."""
    created_at: str = ""
    """When it was queued (RFC 3339, UTC)."""
    started_at: str | None = None
    """When its agent process started."""
    ended_at: str | None = None
    """When it reached an ended status."""
    last_heartbeat: str | None = None
    """The last output from the agent; every line is a heartbeat."""
    exit_code: int | None = None
    """The agent process's exit code, once it exited."""
    outcome: str | None = None
    """Why it ended, in words: `merge request`, `no changes`, `stalled`, `exit 1`, ..."""
    tokens_in: int = 0
    """Input tokens the agent reported spending."""
    tokens_out: int = 0
    """Output tokens the agent reported spending."""
    cost_usd: float = 0.0
    """What it cost in US dollars (see `cost_known`)."""
    transcript: str | None = None
    """The transcript file, relative to the town folder; never deleted by the system."""
    summary: str | None = None
    """What the agent said it did (`gt done --summary`)."""
    done_at: str | None = None
    """When the agent called `gt done` (None if it never did: completion does not need it)."""
    status_text: str | None = None
    """The agent's latest word on its progress (`gt status TEXT`), shown by `gt agents`."""
    status_at: str | None = None
    """When the agent last said `gt status`."""
    checkpoint: dict[str, Any] | None = None
    """The agent's latest `gt checkpoint`: a JSON object it chose to keep, for a retry to read."""
    checkpoint_at: str | None = None
    """When the agent last said `gt checkpoint`."""
    cache_read_tokens: int = 0
    """The part of `tokens_in` read from the prompt cache."""
    cache_write_tokens: int = 0
    """The part of `tokens_in` written to the prompt cache."""
    model: str | None = None
    """The model the runtime reported using, when it said."""
    cost_known: bool = True
    """False when the run spent tokens but neither its runtime nor the price table gave a
    cost: `cost_usd` is then 0 but unknown, and `gt costs` counts it apart."""
    queue: str | None = None
    """The job queue it waits on for a `gt worker` (`polecats`, `polecats:gpu`); None when
    the town process runs it itself."""
    host: str | None = None
    """The worker that took it from the queue, by name (None until one did, and for a run
    the town process runs itself)."""

    @property
    def active(self) -> bool:
        """Whether it is queued, starting or running (not yet ended)."""
        return self.status in ACTIVE_RUN_STATUSES

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {name: getattr(self, name) for name in self.__fields__}


class Escalation(Record):
    """Something a person must look at: raised by an agent (`gt escalate`) or the reconciler."""

    id: int
    """Numbered by the store, in order."""
    severity: Severity
    """One of `SEVERITIES`."""
    message: str
    """What the person must look at, in words."""
    created_at: str
    """When it was raised (RFC 3339, UTC)."""
    bead_id: str | None = None
    """The bead it is about, if any."""
    run_id: str | None = None
    """The run it is about, if any."""
    rig: str | None = None
    """The rig it is about, if any."""
    acknowledged_at: str | None = None
    """When a person acknowledged it; open until then."""
    acknowledged_by: str | None = None
    """Who acknowledged it."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {name: getattr(self, name) for name in self.__fields__}


# Mail addresses besides polecat names.
MAYOR: Final = "mayor"
"""The mayor's mail address."""
TOWN: Final = "town"
"""The mail address of the people who run the town."""


class Mail(Record):
    """A message between the town's agents, the mayor and the people (`gt mail send|check`)."""

    id: int
    """Numbered by the store, in order."""
    sender: str
    """A polecat name, `mayor` or `town`."""
    recipient: str
    """A polecat name, `mayor` or `town`."""
    text: str
    """The message."""
    created_at: str
    """When it was sent (RFC 3339, UTC)."""
    bead_id: str | None = None
    """The sender's bead, when a polecat sent it."""
    read_at: str | None = None
    """When the recipient checked its mail and got this one; unread until then."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.recipient,
            "text": self.text,
            "created_at": self.created_at,
            "bead_id": self.bead_id,
            "read_at": self.read_at,
        }


MR_OPEN: Final = "open"
"""Queued for the refinery."""
MR_TESTING: Final = "testing"
"""In a refinery step now: being merged onto its target, gated, reviewed, landed."""
MR_REWORK: Final = "rework"
"""Sent back: waiting for its rework bead (`rework_bead_id`) to close."""
MR_PR: Final = "pr"
"""Its pull request is open and followed."""
MR_HELD: Final = "held"
"""Stopped for a person (an escalation says why); `gt mr retry` queues it again."""
MR_MERGED: Final = "merged"
MR_FAILED: Final = "failed"
MR_STATUSES: Final = (MR_OPEN, MR_TESTING, MR_REWORK, MR_PR, MR_HELD, MR_MERGED, MR_FAILED)
MrStatus = Literal["open", "testing", "rework", "pr", "held", "merged", "failed"]
"""A merge request's status."""
MR_DONE: Final = frozenset({MR_MERGED, MR_FAILED})

MR_BEAD: Final = "bead"
"""A bead's branch, landing on the rig's target or its convoy's feature branch."""
MR_LANDING: Final = "landing"
"""A review-then-land convoy's feature branch, landing on the rig's target as a whole."""
MR_PULL: Final = "pull"
"""A person's pull request the town babysits: its commits are pushed to the pull request's
own branch, and it is never merged by the town."""

APPROVE: Final = "approve"
CHANGES: Final = "changes"


class MergeRequest(Record):
    """A branch handed to the refinery: what to land, on what, from which run, and how far
    the refinery has got with it (gate results, the reviewer's verdict, its pull request)."""

    id: str
    """Unique in the town; names it in commands, URLs and the ledger."""
    bead_id: str | None
    """The bead it delivers (None for a convoy's landing)."""
    run_id: str | None
    """The run whose work it is (None for a landing or a person's pull request)."""
    rig: str
    """The rig it lands in."""
    branch: str
    """The branch to land."""
    target: str
    """The branch it should land on (the rig's target or a convoy's feature branch)."""
    base_commit: str
    """Where the branch was cut from."""
    head_commit: str
    """The commit of `branch` that was handed over."""
    status: MrStatus = MR_OPEN
    """One of `MR_STATUSES`."""
    summary: str | None = None
    """What the work did, in words (the run's summary)."""
    created_at: str = ""
    """When it was queued (RFC 3339, UTC)."""
    updated_at: str = ""
    """When any field last changed."""
    kind: str = MR_BEAD
    """`bead`, `landing` or `pull` (`MR_BEAD`, `MR_LANDING`, `MR_PULL`)."""
    convoy_id: str | None = None
    """The convoy it belongs to, if any."""
    priority: int = DEFAULT_PRIORITY
    """The bead's priority when queued (a landing takes its convoy's best)."""
    gates: list[dict[str, Any]] = field(default_factory=list)
    """The last gate run: `{"command", "ok", "exit", "seconds", "log", "log_tail"}` each."""
    verdict: str | None = None
    """The reviewer's last word: `approve` or `changes` (None: not reviewed)."""
    review: dict[str, Any] | None = None
    """`{"summary", "comments": [{"path", "line", "body"}], "head"}` of the last review."""
    review_cycles: int = 0
    """Reviews that asked for changes."""
    reworks: int = 0
    """Times it was sent back (conflicts, gates, review, pull request feedback)."""
    pr_url: str | None = None
    """Its pull request's page, once one is open."""
    pr_number: int | None = None
    """Its pull request's number, once one is open."""
    pr_state: dict[str, Any] = field(default_factory=dict)
    """What following the pull request has seen (green since, feedback already handled)."""
    merged_commit: str | None = None
    """The commit on the target that holds its work, once merged."""
    rework_bead_id: str | None = None
    """The bead it waits for while `rework`; the last one afterwards."""
    attempts: int = 0
    """Refinery steps that ended without landing or a verdict (a rejected push, say)."""
    note: str | None = None
    """Why it is where it is: the last step's reason."""
    landed_at: str | None = None
    """When its work reached the target."""

    @property
    def done(self) -> bool:
        """Whether it is merged or failed: the refinery is finished with it."""
        return self.status in MR_DONE

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {name: getattr(self, name) for name in self.__fields__}


class IssueLink(Record):
    """A bead's tie to the forge issue (or pull request) it was made from: at most one bead
    per issue, so an issue slung twice or seen by every poll never becomes a second bead."""

    forge: str
    """`github` or `gitlab`."""
    host: str
    """The web host the issue lives on (github.com, gitlab.com, a self-hosted one)."""
    repo: str
    """`owner/name` (GitLab: the project's full path)."""
    number: int
    """The issue's number (GitLab: its iid)."""
    kind: str
    """`issue` or `pull`."""
    url: str
    """The page people open."""
    bead_id: str
    """The bead made from the issue."""
    rig: str
    """The rig the bead is for."""
    created_at: str
    """When the town took the issue in (RFC 3339, UTC)."""
    issue_updated_at: str = ""
    """The forge's `updated_at` of the issue when the town last took it in."""
    issue_state: str = "open"
    """`open` or `closed`, as last taken in."""

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON `--json` and the API print."""
        return {name: getattr(self, name) for name in self.__fields__}
