"""Convoy plan files: a list of tasks with keys and `needs`, validated whole before use.

    title = "Verbose mode"          # optional, the command line can give it
    rig = "app"                     # optional
    staged = true                   # optional
    merge_mode = "review-and-merge" # optional

    [[tasks]]
    key = "flag"
    title = "Add a --verbose flag"
    body = "..."
    priority = 1
    needs = []

TOML by default; a file ending in `.json` is read as JSON of the same shape.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from gastown import dag
from gastown.errors import InvalidValue, PlanError
from gastown.model import DEFAULT_PRIORITY, MERGE_MODES
from gastown.record import Record, field
from gastown.services import beads

TOP_FIELDS = {"title", "rig", "staged", "merge_mode", "tasks"}
TASK_FIELDS = {"key", "title", "body", "priority", "type", "labels", "needs"}
MAX_KEY = 100
"""Characters in a task's key."""
MAX_KEY_NUMBER = 10**MAX_KEY


class PlanTask(Record):
    key: str
    """Names the task within the plan, for other tasks' `needs`."""
    title: str
    """The bead's title."""
    body: str = ""
    """The bead's description."""
    priority: int = DEFAULT_PRIORITY
    """The bead's priority, 0 (highest) to 4."""
    type: str = "task"
    """The bead's type, one of `BEAD_TYPES`."""
    labels: list[str] = field(default_factory=list)
    """The bead's labels."""
    needs: list[str] = field(default_factory=list)
    """Keys of tasks in the same plan that must close first."""


class Plan(Record):
    tasks: list[PlanTask]
    """The tasks, each to become one bead of the convoy."""
    title: str | None = None
    """The convoy's title, unless the command line gives one."""
    rig: str | None = None
    """The convoy's rig, unless the command line gives one."""
    staged: bool | None = None
    """Whether the convoy waits for `gt convoy start`, unless the command line says."""
    merge_mode: str | None = None
    """How the convoy lands, unless the command line says."""


def read(path: Path) -> Plan:
    """Read and validate a plan file, or raise PlanError naming the file, task and problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"Cannot read the plan file {path}: {exc.strerror}.") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:  # ValueError: also too long a number
        raise PlanError(
            f"{path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}."
        ) from None
    return parse(doc, str(path))


def parse(doc: Any, origin: str = "the plan") -> Plan:
    """Validate a plan already read (a table from TOML or JSON), or raise PlanError
    naming `origin`, the task and the problem."""
    if not isinstance(doc, dict):
        raise PlanError(f"{origin} must be a table with a list of tasks.")
    _refuse_unknown(doc, TOP_FIELDS, origin, "Allowed at the top:")
    raw_tasks = doc.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise PlanError(f"{origin} lists no tasks.", hint="Add one [[tasks]] table per task.")
    tasks = [_task(t, i + 1, origin) for i, t in enumerate(raw_tasks)]
    keys: dict[str, int] = {}
    for i, task in enumerate(tasks, 1):
        if task.key in keys:
            raise PlanError(f"{origin}: tasks {keys[task.key]} and {i} share the key '{task.key}'.")
        keys[task.key] = i
    for i, task in enumerate(tasks, 1):
        for need in task.needs:
            if need not in keys:
                raise PlanError(
                    f"{origin}, task {i} ('{task.key}'): needs '{need}', which is not a key in "
                    "this plan."
                )
            if need == task.key:
                raise PlanError(f"{origin}, task {i} ('{task.key}'): a task cannot need itself.")
    cycle = dag.find_cycle(list(keys), [(t.key, n) for t in tasks for n in t.needs])
    if cycle:
        raise PlanError(f"{origin}: the tasks' needs form a cycle: {' → '.join(cycle)}.")
    merge_mode = doc.get("merge_mode")
    if merge_mode is not None and merge_mode not in MERGE_MODES:
        raise PlanError(f"{origin}: merge_mode must be one of {', '.join(MERGE_MODES)}.")
    staged = doc.get("staged")
    if staged is not None and not isinstance(staged, bool):
        raise PlanError(f"{origin}: staged must be true or false.")
    for name in ("title", "rig"):
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise PlanError(f"{origin}: {name} must be a string.")
    return Plan(tasks, doc.get("title"), doc.get("rig"), staged, merge_mode)


def _refuse_unknown(table: dict[str, Any], allowed: set[str], where: str, may: str) -> None:
    """Refuse a field not in `allowed`, naming it and, after `may`, the ones that are."""
    unknown = set(table) - allowed
    if unknown:
        raise PlanError(
            f"{where} has unknown field(s): {', '.join(sorted(unknown))}.",
            hint=f"{may} {', '.join(sorted(allowed))}.",
        )


def _is_key(value: Any) -> bool:
    """A string, or a number short enough to be written as one (`needs = [1, 2]`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return bool(abs(value) < MAX_KEY_NUMBER)
    return isinstance(value, str)


def _task(raw: Any, index: int, origin: str) -> PlanTask:
    where = f"{origin}, task {index}"
    if not isinstance(raw, dict):
        raise PlanError(f"{where} must be a table.")
    _refuse_unknown(raw, TASK_FIELDS, where, "A task may have")
    key = raw.get("key", str(index))
    if isinstance(key, int) and not isinstance(key, bool) and abs(key) < MAX_KEY_NUMBER:
        key = str(key)
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise PlanError(f"{where}: key must be a non-empty string of at most {MAX_KEY} characters.")
    needs = raw.get("needs", [])
    if not isinstance(needs, list) or not all(_is_key(n) for n in needs):
        raise PlanError(f"{where}: needs must be a list of task keys.")
    labels = raw.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise PlanError(f"{where}: labels must be a list of strings.")
    body = raw.get("body", "")
    if not isinstance(body, str):
        raise PlanError(f"{where}: body must be a string.")
    try:
        return PlanTask(
            key=str(key).strip(),
            title=beads.title(str(raw.get("title", ""))),
            body=beads.body(body),
            priority=beads.priority(raw.get("priority", DEFAULT_PRIORITY)),
            type=beads.bead_type(str(raw.get("type", "task"))),
            labels=beads.labels(labels),
            needs=[str(n) for n in needs],
        )
    except InvalidValue as exc:
        raise PlanError(f"{where}: {exc.message}") from None
