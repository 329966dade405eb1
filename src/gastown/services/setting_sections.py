"""How the settings page groups the town's settings, and what each layer a value can come
from means, in words. Every key of `config.SETTINGS` falls in exactly one section (a test
holds this), so a new setting must be placed before it shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gastown import config


@dataclass(frozen=True)
class Section:
    title: str
    """The section's heading on the settings page and in `gt config list`."""
    about: str
    """One sentence saying what its settings decide."""
    keys: tuple[str, ...] = ()
    """Keys named one by one."""
    prefixes: tuple[str, ...] = ()
    """Keys starting with one of these (`refinery.`)."""

    def holds(self, key: str) -> bool:
        """Whether `key` belongs in this section."""
        return key in self.keys or key.startswith(self.prefixes)


SECTIONS = (
    Section(
        "Agents and models",
        "Which agent CLI works the beads, with which model, and what every agent is told.",
        keys=("runtime", "default_model", "model_base_url", "model_api_key", "env_vars"),
        prefixes=("role_models.", "custom_instructions.", "knowledge."),
    ),
    Section(
        "Dispatch and polecats",
        "How many polecats work at once, how often a bead is retried, and when a run is stuck.",
        keys=("max_polecats_per_rig", "max_dispatch_attempts"),
        prefixes=("polecat.",),
    ),
    Section(
        "Refinery and review",
        "How finished work is tested, reviewed and landed.",
        keys=("merge_strategy",),
        prefixes=("refinery.", "review."),
    ),
    Section(
        "Many hosts",
        "Where a PostgreSQL town's polecats run, and how long a silent worker keeps its runs.",
        keys=("worker_labels",),
        prefixes=("workers.",),
    ),
    Section(
        "Convoys",
        "How a new convoy starts and lands its beads.",
        keys=("staged_convoys_default", "convoy_merge_mode"),
    ),
    Section(
        "Budgets",
        "Spending limits that stop dispatch when used up (off: no limit).",
        prefixes=("budget.",),
    ),
    Section(
        "Escalations",
        "Where escalations are sent, and when one nobody acknowledged is raised again.",
        prefixes=("escalation.", "smtp."),
    ),
    Section(
        "GitHub and GitLab",
        "The forge a rig's issues come from and its pull requests go to.",
        keys=("intake.labels", "forge.poll_seconds"),
        prefixes=("github.", "gitlab."),
    ),
)


def section_of(key: str) -> Section | None:
    """The section `key` belongs in, or None."""
    return next((s for s in SECTIONS if s.holds(key)), None)


def layer(origin: str, key: str) -> str:
    """Where a value comes from, as a person reads it (`Resolved.origins` names it)."""
    return {
        "default": "built-in default",
        "town.toml": "set in town.toml",
        "secrets.toml": "set in secrets.toml",
        "rig": "this rig's override",
        "environment": f"environment variable {config.env_name(key)}",
        "flag": "a command-line flag",
    }.get(origin, origin)


def group(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The settings page's rows (each with `key` and `origin`) by section, in the sections'
    order, each row told its `layer` in words."""
    placed: dict[str, list[dict[str, Any]]] = {s.title: [] for s in SECTIONS}
    placed["Other"] = []  # a setting no section holds yet still shows
    for row in rows:
        found = section_of(row["key"])
        shown = {**row, "layer": layer(row["origin"], row["key"])}
        placed[found.title if found else "Other"].append(shown)
    about = {s.title: s.about for s in SECTIONS}
    return [
        {"title": title, "about": about.get(title, ""), "settings": shown}
        for title, shown in placed.items()
        if shown
    ]
