"""Settings: what they are, what they accept, and how the layers stack.

Built-in defaults < `town.toml` [settings] < per-rig overrides < `GT_*` environment < flags.
Keys are dotted (`refinery.gates`); in `town.toml` the dots are nested tables. An environment
variable names a key in upper case with `__` for each dot: `GT_REFINERY__CODE_REVIEW=false`.
A setting marked `secret=True` is masked in every display, and the town keeps it in
`secrets.toml` (readable by its owner only) instead of `town.toml` (see `gastown.town`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal, get_args

from gastown import escalation_routes
from gastown.errors import InvalidValue
from gastown.limits import bad_character, is_url, shown
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


def setting(key: str) -> Setting:
    """The setting `key` names (a `map` entry names its map); else the input error
    naming those near it."""
    found = SETTINGS.get(key)
    if found is None:
        parent = key.split(".", 1)[0]
        if parent in SETTINGS and SETTINGS[parent].kind == "map":
            return SETTINGS[parent]
        near = [k for k in SETTINGS if k.startswith(key.split(".", maxsplit=1)[0])]
        raise InvalidValue(
            f"'{shown(key, 60)}' is not a setting.",
            hint=("Did you mean " + ", ".join(near) + "? " if near else "")
            + "`gt config show` lists them all.",
        )
    return found


def _fail(s: Setting, key: str, value: Any) -> InvalidValue:
    said = MASK if s.secret else shown(value if isinstance(value, int) else repr(value), 60)
    return InvalidValue(f"Setting '{key}' expects {s.expected}, not {said}.")


def check(key: str, value: Any) -> Any:
    """Validate an already-typed value (from TOML, JSON or code) for `key`; returns it."""
    s = setting(key)
    if s.kind == "map" and key != s.key:  # one entry of a map: env_vars.NAME
        if not isinstance(value, str):
            raise _fail(s, key, value)
        _entry(s, key.split(".", 1)[1], value)
        return value
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "map": isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()),
        "choice": value in s.choices,
        "optint": value is None or (isinstance(value, int) and not isinstance(value, bool)),
        "usd": value is None or _is_usd(value),
    }[s.kind]
    if not ok or (s.kind in ("int", "optint") and value is not None and not _within(s, value)):
        raise _fail(s, key, value)
    if s.kind == "str":
        _text(s, key, value)
    elif s.kind == "list":
        if len(value) > MAX_ENTRIES:
            raise InvalidValue(f"Setting '{key}' holds at most {MAX_ENTRIES} entries.")
        for entry in value:
            _text(s, key, entry, "\t\n")
    elif s.kind == "map":
        if len(value) > MAX_ENTRIES:
            raise InvalidValue(f"Setting '{key}' holds at most {MAX_ENTRIES} entries.")
        for name, entry in value.items():
            _entry(s, name, entry)
    return value


def _is_usd(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value < 1e12
    )


def _within(s: Setting, value: int) -> bool:
    low = max(s.minimum or 0, 0)
    return low <= value and (s.maximum is None or value <= s.maximum)


def _text(s: Setting, key: str, value: str, allowed: str = "") -> None:
    """Refuse text a program could not take: control characters, a size past `MAX_TEXT`,
    or a URL or repository that is not one."""
    if s.form == "text":
        allowed = "\t\n\r"
    if len(value) > MAX_TEXT:
        raise InvalidValue(
            f"Setting '{key}' is at most {MAX_TEXT} characters; this value has {len(value)}."
        )
    if bad := bad_character(value, allowed):
        raise InvalidValue(
            f"Setting '{key}' cannot hold control characters ({bad}); give it as plain text."
        )
    if s.form == "url" and (value or s.default) and not is_url(value):
        raise _fail(s, key, value)
    if s.form == "repo" and value and not _is_repo(value):
        raise _fail(s, key, value)
    if s.form == "route":
        escalation_routes.parse(value, key)


def _is_repo(text: str) -> bool:
    return REPO.fullmatch(text) is not None and not any(p in (".", "..") for p in text.split("/"))


def _entry(s: Setting, name: str, value: str) -> None:
    """One entry of a map: for `env_vars`, a legal variable name and a value it can hold."""
    if not ENV_NAME.fullmatch(name):
        raise InvalidValue(
            f"'{shown(name, 60)}' cannot name an environment variable: use letters, digits "
            f"and _, not starting with a digit (e.g. {s.key}.API_KEY)."
        )
    if not isinstance(value, str):
        raise _fail(s, f"{s.key}.{name}", value)
    _text(s, f"{s.key}.{name}", value, "\t\n\r")


def parse(key: str, text: str) -> Any:
    """Turn what a user typed (flag, env var) into a typed value for `key`, or say why not."""
    s = setting(key)
    kind = "str" if s.kind == "map" and key != s.key else s.kind
    value: Any = text
    if kind in ("int", "optint"):
        if kind == "optint" and text.strip().lower() in ("off", "none", "null", ""):
            return None
        try:
            value = int(text)
        except ValueError:
            raise _fail(s, key, text) from None
    elif kind == "usd":
        if text.strip().lower() in ("off", "none", "null", ""):
            return None
        try:
            value = float(text.strip().removeprefix("$"))
        except ValueError:
            raise _fail(s, key, text) from None
        if not _is_usd(value):
            raise _fail(s, key, text)
    elif kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise _fail(s, key, text)
        value = lowered in ("true", "yes", "on", "1")
    elif kind in ("list", "map"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise _fail(s, key, text) from None
    return check(key, value)


def flatten(table: Mapping[str, Any], origin: str, prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables to dotted keys, validating each; unknown keys name where they are."""
    if not isinstance(table, Mapping):
        raise InvalidValue(
            f"In {origin}: [settings] must be a table of settings.",
            hint=f"Fix it in {origin}; `gt config show` lists every setting.",
        )
    out: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if key in SETTINGS:
            try:
                out[key] = check(key, value)
            except InvalidValue as exc:
                raise InvalidValue(
                    f"In {origin}: {exc.message}",
                    hint=f"Fix or remove it in {origin} (`gt config set` checks values first).",
                ) from None
        elif key in GROUPS and isinstance(value, Mapping):
            out.update(flatten(value, origin, f"{key}."))
        else:
            raise InvalidValue(
                f"In {origin}: '{key}' is not a setting.",
                hint="`gt config show` lists every setting.",
            )
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys back to nested tables, for writing `town.toml`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings named by `GT_*` variables; other `GT_` names (GT_TOWN, ...) are not settings."""
    out: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith("GT_"):
            continue
        key = name[3:].lower().replace("__", ".")
        if key in SETTINGS:
            try:
                out[key] = parse(key, text)
            except InvalidValue as exc:
                raise InvalidValue(f"In environment variable {name}: {exc.message}") from None
    return out


def env_name(key: str) -> str:
    """The environment variable that sets `key`: `GT_` and the key upper-cased, dots as `__`."""
    return "GT_" + key.upper().replace(".", "__")


class Resolved(Record):
    """Effective settings with the layer each value came from."""

    values: Mapping[str, Any]
    """Every setting's value in force, by key."""
    origins: Mapping[str, str]
    """The layer each value came from, by key (`default`, `town.toml`, ...)."""

    def __getitem__(self, key: str) -> Any:
        setting(key)
        return self.values[key]

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value) in force, secrets not masked."""
        return iter(self.values.items())

    def display(self, key: str) -> Any:
        """The value as it may be shown to anyone: secrets masked."""
        return masked(key, self.values[key])


def masked(key: str, value: Any) -> Any:
    """`value` fit to show: a secret's value as `MASK` (a map's values each)."""
    s = setting(key)
    if not s.secret:
        return value
    if isinstance(value, dict):
        return dict.fromkeys(value, MASK)
    return MASK if value else value


def resolve(
    town: Mapping[str, Any],
    rig: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Resolved:
    """Stack the layers. `town`, `rig` and `flags` hold dotted keys already validated."""
    values: dict[str, Any] = {k: s.default for k, s in SETTINGS.items()}
    origins = dict.fromkeys(SETTINGS, "default")
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("town.toml", town),
        ("rig", rig or {}),
        ("environment", from_environ(environ or {})),
        ("flag", flags or {}),
    ]
    for origin, layer in layers:
        for key, value in layer.items():
            s = setting(key)
            where = "secrets.toml" if s.secret and origin == "town.toml" else origin
            if s.kind == "map":  # maps merge across layers: a rig adds to the town's entries
                entry = {key.split(".", 1)[1]: value} if key != s.key else value
                values[s.key] = {**values[s.key], **entry}
                origins[s.key] = where
            else:
                values[key] = value
                origins[key] = where
    return Resolved(values, origins)
