"""Every setting the town has: its dotted key, its kind, its built-in default, what it
decides, and the bounds a value must keep."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from gastown.record import Record

MASK = "••••••"
Runtime = Literal["claude", "codex", "opencode", "kilo", "gemini", "builtin", "scripted"]
"""An agent runtime the `runtime` setting may name; each has an adapter in
`runtimes.registry` (which sits above the settings, so a test keeps the two in step)."""
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
MAX_TEXT = 16 * 1024
"""Characters in one text value (a string, a list entry, a map value): an agent gets many of
them in its environment or command line, which the system bounds."""
MAX_ENTRIES = 100
"""Entries in one list or map."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable may be called (POSIX's portable names)."""
REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
DAY = 24 * 60 * 60

Form = Literal["line", "text", "url", "repo", "route"]


class Setting(Record):
    key: str
    """The dotted name (`refinery.gates`); a `map` setting's entries add `.NAME`."""
    kind: str
    """`str`, `int`, `bool`, `list` (of strings), `map` (string to string), `choice`, `optint`,
    `usd` (an amount of US dollars ≥ 0, or None for no limit)."""
    default: Any
    """The built-in value."""
    doc: str
    """What it decides, for `gt config show` and the settings page."""
    choices: tuple[str, ...] = ()
    """The values a `choice` may take."""
    minimum: int | None = None
    """The lowest value of an `int` or `optint`, if bounded."""
    maximum: int | None = None
    """Bounds of an `int` or `optint` (an `optint` is never below 0)."""
    secret: bool = False
    """Values are masked in every display."""
    form: Form = "line"
    """What a `str` holds: one line of plain text; `text` (line breaks and tabs allowed); an
    http(s) `url` with a host; a GitHub `repo` as owner/name. A `url` or `repo` may be empty
    only where the default is."""

    @property
    def expected(self) -> str:
        """What a valid value looks like, in words, for a refusal."""
        low = max(self.minimum or 0, 0)
        span = f"from {low} to {self.maximum}" if self.maximum is not None else f"≥ {low}"
        empty = ", or empty" if self.form in ("url", "repo") and not self.default else ""
        text = {
            "line": "one line of text",
            "text": "text",
            "url": "an http:// or https:// URL with a host (e.g. https://api.example.com)",
            "repo": "a GitHub repository as owner/name",
            "route": "one line of text",
        }[self.form]
        return {
            "str": text + empty,
            "int": f"an integer {span}",
            "bool": "true or false",
            "list": 'a list of strings (JSON, e.g. ["make test"])',
            "map": 'a map of strings (JSON, e.g. {"NAME": "value"})',
            "choice": "one of " + ", ".join(self.choices),
            "optint": f"an integer {span}, or off",
            "usd": "an amount of US dollars ≥ 0 (e.g. 2.50), or off",
        }[self.kind]


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("runtime", "choice", "claude", "Agent runtime polecats use.", RUNTIMES),
        Setting(
            "default_model",
            "str",
            "",
            "Model for every role without its own; empty means the runtime's default.",
        ),
        Setting(
            "model_base_url",
            "str",
            "",
            "Where agents reach their model API (a gateway, a local server); empty: the "
            "runtime's own.",
            form="url",
        ),
        Setting("model_api_key", "str", "", "The key for that API; masked.", secret=True),
        Setting("role_models.polecat", "str", "", "Model for polecats."),
        Setting("role_models.refinery", "str", "", "Model for the refinery's reviewer."),
        Setting("role_models.mayor", "str", "", "Model for the mayor."),
        Setting(
            "max_polecats_per_rig",
            "int",
            4,
            "Most polecats working one rig at once.",
            minimum=1,
            maximum=256,
        ),
        Setting(
            "max_dispatch_attempts",
            "int",
            5,
            "Failed runs of a bead before it fails.",
            minimum=1,
            maximum=100,
        ),
        Setting(
            "merge_strategy",
            "choice",
            "direct",
            "Land by merging into the target branch (direct) or through a pull request (pr).",
            ("direct", "pr"),
        ),
        Setting("refinery.gates", "list", [], "Shell commands that must pass before landing."),
        Setting("refinery.code_review", "bool", True, "Have a reviewer agent judge each diff."),
        Setting(
            "refinery.reviewer",
            "choice",
            "model",
            "Who reviews: the model of role_models.refinery asked directly (model), or the "
            "rig's runtime run on a read-only worktree of the change (agent).",
            ("model", "agent"),
        ),
        Setting(
            "refinery.auto_merge_delay_minutes",
            "optint",
            None,
            "Merge a green pull request after this many minutes; off never merges it.",
            maximum=366 * 24 * 60,
        ),
        Setting(
            "refinery.max_review_cycles",
            "int",
            3,
            "Review rounds before escalating.",
            minimum=1,
            maximum=100,
        ),
        Setting(
            "refinery.max_reworks",
            "int",
            5,
            "Times a merge request is sent back for rework before a person is asked.",
            minimum=1,
            maximum=100,
        ),
        Setting(
            "refinery.batch_size",
            "int",
            4,
            "Merge requests tested together.",
            minimum=1,
            maximum=64,
        ),
        Setting(
            "refinery.auto_resolve_conflicts",
            "bool",
            True,
            "Send merge conflicts back to a polecat instead of escalating.",
        ),
        Setting(
            "refinery.auto",
            "bool",
            True,
            "Run the refinery in the town process; false leaves merge requests queued for "
            "`gt refinery run`.",
        ),
        Setting(
            "refinery.merge_method",
            "choice",
            "merge",
            "How a branch is put on its target: merged, or rebased onto it.",
            ("merge", "rebase"),
        ),
        Setting(
            "refinery.fast_forward",
            "bool",
            True,
            "Land by fast-forward when the branch allows it; false always makes a merge commit.",
        ),
        Setting(
            "refinery.gate_timeout_seconds",
            "int",
            1800,
            "Stop a gate command that runs longer than this (it fails).",
            minimum=1,
            maximum=7 * DAY,
        ),
        Setting(
            "refinery.gates_on",
            "choice",
            "town",
            "Where a PostgreSQL town's gates run: in the leading town process (town), or on "
            "its `gt worker`s, one step per rig target at a time (workers). A SQLite town, and "
            "`gt refinery run`, always run them themselves (saying so once in the log).",
            ("town", "workers"),
        ),
        Setting(
            "refinery.land_on_preexisting_failure",
            "bool",
            True,
            "Land when a gate fails on the target too (a bug bead is filed for it).",
        ),
        Setting(
            "refinery.auto_resolve_pr_feedback",
            "bool",
            True,
            "Send review comments and failing checks on a pull request to a polecat.",
        ),
        Setting(
            "refinery.pr_poll_seconds",
            "int",
            60,
            "How often an open pull request is checked.",
            minimum=1,
            maximum=DAY,
        ),
        Setting(
            "refinery.review_mode",
            "choice",
            "verdict",
            "Keep the reviewer's verdict in the town (verdict), or also post it on the town's "
            "pull request as a review with comments on lines (comments).",
            ("verdict", "comments"),
        ),
        Setting(
            "review.human_prs",
            "bool",
            False,
            "Review each open pull request not made by the town once per new head commit, "
            "drafts skipped, and post it as comments.",
        ),
        Setting(
            "github.token",
            "str",
            "",
            "Token for the GitHub API (pull requests); empty: GITHUB_TOKEN.",
            secret=True,
        ),
        Setting(
            "github.api_url", "str", "https://api.github.com", "The GitHub API to use.", form="url"
        ),
        Setting(
            "github.repo",
            "str",
            "",
            "The rig's repository on GitHub as owner/name; empty: read from the rig's URL.",
            form="repo",
        ),
        Setting(
            "gitlab.token",
            "str",
            "",
            "Token for the GitLab API, with the api scope; empty: GITLAB_TOKEN.",
            secret=True,
        ),
        Setting(
            "gitlab.api_url",
            "str",
            "https://gitlab.com",
            "The GitLab instance to use (its address, without /api/v4).",
            form="url",
        ),
        Setting(
            "gitlab.repo",
            "str",
            "",
            "The rig's project on GitLab as its full path (group/subgroup/name); empty: read "
            "from the rig's URL.",
        ),
        Setting(
            "github.webhook_secret",
            "str",
            "",
            "The secret GitHub signs webhook deliveries with (X-Hub-Signature-256); empty: "
            "POST /hooks/github is off.",
            secret=True,
        ),
        Setting(
            "gitlab.webhook_secret",
            "str",
            "",
            "The secret token GitLab sends with webhook deliveries (X-Gitlab-Token); empty: "
            "POST /hooks/gitlab is off.",
            secret=True,
        ),
        Setting(
            "github.app_id",
            "int",
            0,
            "A GitHub App's id, to act as its installation when there is no token; 0: none.",
            minimum=0,
        ),
        Setting(
            "github.app_private_key",
            "str",
            "",
            "That app's private key (PEM); masked.",
            secret=True,
            form="text",
        ),
        Setting(
            "github.app_installation_id",
            "int",
            0,
            "The id of that app's installation on the rig's repository.",
            minimum=0,
        ),
        Setting(
            "intake.labels",
            "list",
            ["gastown"],
            "Open issues carrying every one of these labels become beads by themselves; an "
            "empty list turns intake off.",
        ),
        Setting(
            "forge.poll_seconds",
            "int",
            60,
            "How often each rig's forge is asked for new or changed issues.",
            minimum=5,
            maximum=DAY,
        ),
        Setting(
            "polecat.stall_timeout_seconds",
            "int",
            900,
            "Stop and retry a run that prints nothing for this long.",
            minimum=1,
            maximum=7 * DAY,
        ),
        Setting(
            "polecat.run_timeout_seconds",
            "int",
            7200,
            "Stop and retry a run that takes longer than this.",
            minimum=1,
            maximum=7 * DAY,
        ),
        Setting(
            "polecat.retry_backoff_seconds",
            "int",
            30,
            "Wait after a bead's first failed run before it runs again; doubling after each "
            "failure, up to 20 times this.",
            minimum=0,
            maximum=DAY,
        ),
        Setting(
            "polecat.retry_from",
            "choice",
            "previous",
            "Where a bead's retry starts: on the branch of its last failed attempt, with the "
            "commits it left (previous), or from the target branch afresh (fresh). Work that a "
            "merge request already took is never continued.",
            ("previous", "fresh"),
        ),
        Setting(
            "workers.placement",
            "choice",
            "auto",
            "Where a PostgreSQL town's polecats run: on `gt worker`s when any is up (auto), "
            "always on workers, waiting for one (workers), or in the town process (town). A "
            "SQLite town always runs them itself.",
            ("auto", "workers", "town"),
        ),
        Setting(
            "workers.stalled_seconds",
            "int",
            30,
            "Seconds a worker may go without a heartbeat before its runs are taken from it "
            "and retried elsewhere, their attempts given back.",
            minimum=3,
            maximum=3600,
        ),
        Setting(
            "worker_labels",
            "list",
            [],
            "Labels a worker must all have to take this rig's runs (`gt worker --label`).",
        ),
        Setting(
            "escalation.routes",
            "list",
            [],
            "Where escalations are sent, one route each: SEVERITY webhook URL, SEVERITY "
            "command PROGRAM [ARGS], or SEVERITY email (a route takes its severity and above).",
            form="route",
        ),
        Setting(
            "escalation.bump_after_minutes",
            "int",
            240,
            "An escalation unacknowledged this long goes up one severity and is routed again.",
            minimum=1,
            maximum=366 * 24 * 60,
        ),
        Setting("smtp.host", "str", "", "The SMTP server email routes send through."),
        Setting("smtp.port", "int", 25, "That server's port.", minimum=1, maximum=65535),
        Setting("smtp.from", "str", "", "The address escalation emails come from."),
        Setting("smtp.to", "list", [], "The addresses escalation emails go to."),
        Setting("smtp.user", "str", "", "The SMTP login, if the server wants one.", secret=True),
        Setting("smtp.password", "str", "", "That login's password; masked.", secret=True),
        Setting("staged_convoys_default", "bool", False, "Create convoys staged unless told."),
        Setting(
            "convoy_merge_mode",
            "choice",
            "review-then-land",
            "How convoys land.",
            ("review-then-land", "review-and-merge"),
        ),
        Setting(
            "custom_instructions.polecat",
            "str",
            "",
            "Added to every polecat's prompt.",
            form="text",
        ),
        Setting(
            "custom_instructions.refinery",
            "str",
            "",
            "Added to the reviewer's prompt.",
            form="text",
        ),
        Setting(
            "custom_instructions.mayor", "str", "", "Added to the mayor's prompt.", form="text"
        ),
        Setting(
            "knowledge.auto_accept",
            "bool",
            False,
            "Take what polecats learn (`gt remember`) as accepted notes at once, instead of "
            "proposed ones a person or the mayor accepts.",
        ),
        Setting(
            "knowledge.prompt_budget_tokens",
            "int",
            2000,
            "Most tokens (about 4 characters each) of notes a polecat's or the reviewer's "
            "prompt carries; 0: none.",
            minimum=0,
            maximum=100_000,
        ),
        Setting(
            "env_vars", "map", {}, "Environment passed to agents; values are masked.", secret=True
        ),
        Setting(
            "budget.per_bead_usd",
            "usd",
            None,
            "Most a bead may cost, all its runs and reviews together; off: no limit.",
        ),
        Setting(
            "budget.per_convoy_usd",
            "usd",
            None,
            "Most the beads of one convoy may cost together; off: no limit.",
        ),
        Setting(
            "budget.daily_usd",
            "usd",
            None,
            "Most the town (in town.toml) or a rig (as its own setting) may spend in a UTC "
            "day, the mayor included; off: no limit.",
        ),
    )
}
GROUPS = frozenset(k.rsplit(".", 1)[0] for k in SETTINGS if "." in k)
