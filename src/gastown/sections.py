"""Settings read as typed sections: `sections(settings).refinery.max_reworks` is an `int`.

`config.Resolved` maps dotted keys to values typed `Any`, so a misspelt key fails only when it
is read and a wrong type not at all. A section is a frozen record of one group's settings with
their real types, built once from one read of the settings; code reads the section instead of
looking keys up. The values are those `config.check` already accepted, so building a section
converts nothing and refuses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from gastown import config
from gastown.record import Record


class Agents(Record, frozen=True):
    """What every agent is launched with: its runtime, its model and the model API."""

    runtime: config.Runtime
    """The agent runtime polecats and the agent reviewer use."""
    default_model: str
    """The model a role without its own uses; empty: the runtime's own default."""
    model_base_url: str
    """The model API's base URL; empty: the runtime's default."""
    model_api_key: str
    """The key for that API (a secret)."""
    env_vars: Mapping[str, str]
    """Environment passed to agents (secrets)."""
    polecat_model: str
    """The polecats' model, or the default model."""
    refinery_model: str
    """The refinery reviewer's model, or the default model."""
    mayor_model: str
    """The mayor's model, or the default model."""


class Polecat(Record, frozen=True):
    """How long a polecat may run and how a failed one is retried."""

    stall_timeout_seconds: int
    """Seconds without output before a run is stopped as stalled."""
    run_timeout_seconds: int
    """Seconds a run may last in all."""
    retry_backoff_seconds: int
    """The first wait before a failed bead is tried again."""
    retry_from: Literal["previous", "fresh"]
    """Whether a retry starts from the failed run's branch or afresh."""
    custom_instructions: str
    """Added to every polecat's prompt."""


class Refinery(Record, frozen=True):
    """How the refinery reviews, gates and lands merge requests."""

    gates: tuple[str, ...]
    """Shell commands that must pass before landing."""
    code_review: bool
    """Whether a reviewer judges each diff."""
    reviewer: Literal["model", "agent"]
    """Who reviews: a model call or an agent run."""
    auto_merge_delay_minutes: int | None
    """Minutes a pull request waits before it is merged; None: never merged by the town."""
    max_review_cycles: int
    """Reviews a merge request may have before it is held."""
    max_reworks: int
    """Reworks a bead may have before it is failed."""
    batch_size: int
    """Merge requests gated together."""
    auto_resolve_conflicts: bool
    """Whether a conflicting merge request goes back to a polecat to rebase."""
    auto: bool
    """Whether the refinery steps on its own."""
    merge_method: Literal["merge", "rebase"]
    """How a branch lands on the target."""
    fast_forward: bool
    """Whether a branch already on the target's tip lands without a merge commit."""
    gate_timeout_seconds: int
    """Seconds one gate command (or an agent review) may take."""
    land_on_preexisting_failure: bool
    """Whether a gate that fails on the target too is excused."""
    gates_on: Literal["town", "workers"]
    """Where the gates run: in the town process, or on a PostgreSQL town's workers."""
    auto_resolve_pr_feedback: bool
    """Whether a pull request's feedback goes back to a polecat."""
    pr_poll_seconds: int
    """Seconds between looks at an open pull request."""
    review_mode: Literal["verdict", "comments"]
    """Whether a review is a verdict only or comments on the pull request too."""
    review_human_prs: bool
    """Whether people's pull requests are reviewed too."""
    custom_instructions: str
    """Added to the reviewer's prompt."""
    merge_strategy: Literal["direct", "pr"]
    """Whether work lands on the target or through pull requests."""


class Budget(Record, frozen=True):
    """Spending limits in US dollars; None is no limit."""

    per_bead_usd: float | None
    """Most a bead may cost."""
    per_convoy_usd: float | None
    """Most a convoy's beads may cost together."""
    daily_usd: float | None
    """Most the town (or a rig) may spend in a UTC day."""


class Knowledge(Record, frozen=True):
    """What the town does with what its agents learn."""

    auto_accept: bool
    """Whether notes are accepted at once."""
    prompt_budget_tokens: int
    """Most tokens of notes one prompt carries."""


class Escalation(Record, frozen=True):
    """Where escalations go and when they are raised."""

    routes: tuple[str, ...]
    """Routes as written (`escalation_routes` parses them)."""
    bump_after_minutes: int
    """Minutes before an unanswered escalation is raised a severity."""


class Intake(Record, frozen=True):
    """Which forge issues become beads, and how often the forge is read."""

    labels: tuple[str, ...]
    """Labels that mark an issue for the town; empty: no intake."""
    poll_seconds: int
    """Seconds between reads of the forge."""


class Smtp(Record, frozen=True):
    """The mail server escalation emails go through."""

    host: str
    """The server; empty: no email."""
    port: int
    """Its port."""
    sender: str
    """The From address."""
    to: tuple[str, ...]
    """The addresses written to."""
    user: str
    """The login, if any."""
    password: str
    """That login's password."""


class Forge(Record, frozen=True):
    """Where a rig's repository is on one forge, and how the town signs in to it."""

    repo: str
    """The repository (GitHub owner/name, GitLab full path); empty: read from the rig's URL."""
    api_url: str
    """The forge's API (GitHub) or instance (GitLab) address."""
    token: str
    """The API token (a secret); empty: the forge's environment variable."""
    webhook_secret: str
    """The secret webhook deliveries are signed with; empty: that forge's webhook is off."""


class GitHub(Forge, frozen=True):
    """GitHub's settings, with the GitHub App the town may act as instead of a token."""

    app_id: int
    """The GitHub App's id; 0: none."""
    app_private_key: str
    """That app's private key (PEM, a secret)."""
    app_installation_id: int
    """The id of its installation on the rig's repository."""


class Mayor(Record, frozen=True):
    """What the mayor is told beyond its own prompt."""

    custom_instructions: str
    """Added to the mayor's prompt."""


class Dispatch(Record, frozen=True):
    """How many polecats work a rig, and how often a bead is tried."""

    max_polecats_per_rig: int
    """Most polecats working one rig at once."""
    max_dispatch_attempts: int
    """Failed runs of a bead before it fails."""


class Workers(Record, frozen=True):
    """Where a PostgreSQL town's polecats run (see `gastown.workers`)."""

    placement: Literal["auto", "workers", "town"]
    """On workers when any is up, always on workers, or in the town process."""
    stalled_seconds: int
    """How long a silent worker keeps its runs."""
    labels: tuple[str, ...]
    """Labels a worker must all have to take the rig's runs."""


class Convoys(Record, frozen=True):
    """How a new convoy starts and lands its beads, when its maker does not say."""

    staged_by_default: bool
    """Whether a new convoy is staged."""
    merge_mode: Literal["review-then-land", "review-and-merge"]
    """How its beads land."""


class Sections(Record, frozen=True):
    """Every section of one read of the settings."""

    agents: Agents
    """Runtime, models and the model API."""
    polecat: Polecat
    """Polecat timeouts and retries."""
    refinery: Refinery
    """Review, gates and landing."""
    budget: Budget
    """Spending limits."""
    knowledge: Knowledge
    """Notes agents learn."""
    escalation: Escalation
    """Escalation routes and bumps."""
    intake: Intake
    """Forge issue intake."""
    smtp: Smtp
    """Email for escalations."""
    github: GitHub
    """The GitHub repository and credentials."""
    gitlab: Forge
    """The GitLab project and credentials."""
    mayor: Mayor
    """The mayor's added instructions."""
    dispatch: Dispatch
    """Polecats per rig and attempts per bead."""
    convoys: Convoys
    """How new convoys start and land."""
    workers: Workers
    """Where polecats run in a town over several hosts."""

    def forge(self, kind: str) -> Forge:
        """The settings of the forge `kind` (`github` or `gitlab`)."""
        return self.github if kind == "github" else self.gitlab


def sections(settings: config.Resolved | Mapping[str, Any]) -> Sections:
    """The typed sections of `settings` (a `config.Resolved` or any mapping of every key)."""
    s = settings
    default = str(s["default_model"])
    return Sections(
        agents=Agents(
            runtime=s["runtime"],
            default_model=default,
            model_base_url=str(s["model_base_url"]),
            model_api_key=str(s["model_api_key"]),
            env_vars=dict(s["env_vars"]),
            polecat_model=str(s["role_models.polecat"]) or default,
            refinery_model=str(s["role_models.refinery"]) or default,
            mayor_model=str(s["role_models.mayor"]) or default,
        ),
        polecat=Polecat(
            stall_timeout_seconds=int(s["polecat.stall_timeout_seconds"]),
            run_timeout_seconds=int(s["polecat.run_timeout_seconds"]),
            retry_backoff_seconds=int(s["polecat.retry_backoff_seconds"]),
            retry_from=s["polecat.retry_from"],
            custom_instructions=str(s["custom_instructions.polecat"]),
        ),
        refinery=_refinery(s),
        budget=Budget(
            per_bead_usd=s["budget.per_bead_usd"],
            per_convoy_usd=s["budget.per_convoy_usd"],
            daily_usd=s["budget.daily_usd"],
        ),
        knowledge=Knowledge(
            auto_accept=bool(s["knowledge.auto_accept"]),
            prompt_budget_tokens=int(s["knowledge.prompt_budget_tokens"]),
        ),
        escalation=Escalation(
            routes=tuple(s["escalation.routes"]),
            bump_after_minutes=int(s["escalation.bump_after_minutes"]),
        ),
        intake=Intake(labels=tuple(s["intake.labels"]), poll_seconds=int(s["forge.poll_seconds"])),
        smtp=Smtp(
            host=str(s["smtp.host"]),
            port=int(s["smtp.port"]),
            sender=str(s["smtp.from"]),
            to=tuple(s["smtp.to"]),
            user=str(s["smtp.user"]),
            password=str(s["smtp.password"]),
        ),
        github=GitHub(
            repo=str(s["github.repo"]),
            api_url=str(s["github.api_url"]),
            token=str(s["github.token"]),
            webhook_secret=str(s["github.webhook_secret"]),
            app_id=int(s["github.app_id"]),
            app_private_key=str(s["github.app_private_key"]),
            app_installation_id=int(s["github.app_installation_id"]),
        ),
        gitlab=Forge(
            repo=str(s["gitlab.repo"]),
            api_url=str(s["gitlab.api_url"]),
            token=str(s["gitlab.token"]),
            webhook_secret=str(s["gitlab.webhook_secret"]),
        ),
        mayor=Mayor(custom_instructions=str(s["custom_instructions.mayor"])),
        dispatch=Dispatch(
            max_polecats_per_rig=int(s["max_polecats_per_rig"]),
            max_dispatch_attempts=int(s["max_dispatch_attempts"]),
        ),
        convoys=Convoys(
            staged_by_default=bool(s["staged_convoys_default"]),
            merge_mode=s["convoy_merge_mode"],
        ),
        workers=Workers(
            placement=s["workers.placement"],
            stalled_seconds=int(s["workers.stalled_seconds"]),
            labels=tuple(sorted(s["worker_labels"])),
        ),
    )


def rig_daily_usd(overrides: Mapping[str, Any]) -> float | None:
    """A rig's own daily limit: its override alone (the town's limit is the town's), None
    when it sets none."""
    limit: float | None = overrides.get("budget.daily_usd")
    return limit


def _refinery(s: config.Resolved | Mapping[str, Any]) -> Refinery:
    return Refinery(
        gates=tuple(s["refinery.gates"]),
        code_review=bool(s["refinery.code_review"]),
        reviewer=s["refinery.reviewer"],
        auto_merge_delay_minutes=s["refinery.auto_merge_delay_minutes"],
        max_review_cycles=int(s["refinery.max_review_cycles"]),
        max_reworks=int(s["refinery.max_reworks"]),
        batch_size=int(s["refinery.batch_size"]),
        auto_resolve_conflicts=bool(s["refinery.auto_resolve_conflicts"]),
        auto=bool(s["refinery.auto"]),
        merge_method=s["refinery.merge_method"],
        fast_forward=bool(s["refinery.fast_forward"]),
        gate_timeout_seconds=int(s["refinery.gate_timeout_seconds"]),
        land_on_preexisting_failure=bool(s["refinery.land_on_preexisting_failure"]),
        gates_on=s["refinery.gates_on"],
        auto_resolve_pr_feedback=bool(s["refinery.auto_resolve_pr_feedback"]),
        pr_poll_seconds=int(s["refinery.pr_poll_seconds"]),
        review_mode=s["refinery.review_mode"],
        review_human_prs=bool(s["review.human_prs"]),
        custom_instructions=str(s["custom_instructions.refinery"]),
        merge_strategy=s["merge_strategy"],
    )
