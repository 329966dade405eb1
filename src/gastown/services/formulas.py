"""Formulas: reusable plans, TOML templates with variables that become convoys.

    description = "A feature: design, implement, tests, docs."
    title = "Feature: {{name}}"              # the convoy's title

    [vars]
    name = { description = "the feature, in a few words" }
    details = { description = "what it must do", default = "" }

    [[tasks]]                                # as in a convoy plan (`services.plan`)
    key = "design"
    title = "Design {{name}}"
    body = "..."

    [[tasks]]
    key = "each"
    each = "{{pattern}}"                     # a fan-out: one bead per file of the rig matching
    per = "file"                             # this glob (or per = "package": per folder), with
    title = "{{change}} in {{item}}"         # {{item}} the file or folder
    needs = []                               # a task needing "each" needs every one of them

The package ships some (`gastown/formulas/`); a town's `formulas/` folder and a rig's
`.gastown/formulas/` add to them or override them by name. A template is checked whole when
read, naming the line of what is wrong; a run is checked whole (variables, the fan-out's
files, the plan it makes) before the convoy is written in one transaction.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gastown import dag
from gastown.errors import InvalidValue, NotFound, PlanError
from gastown.record import Record, field
from gastown.services import plan

if TYPE_CHECKING:
    from gastown.services.convoys import ConvoyView
    from gastown.services.ledger import Ledger
    from gastown.town import Town

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ITEM = "item"
"""The variable an `each` task's fields name its file or folder with."""
TOP = {"description", "title", "vars", "tasks"}
TASK = {*plan.TASK_FIELDS, "each", "per"}
PER = ("file", "package")
MAX_ITEMS = 500
"""Beads one fan-out may make; a wider sweep is better cut by a narrower pattern."""


class Var(Record):
    name: str
    """How the formula's text refers to it (`{{name}}`)."""
    description: str
    """What to give, in words, for `gt formula show` and the mayor."""
    default: str | None = None
    """None: the variable must be given."""
    line: int = 0
    """Where it is declared in the file."""


class Formula(Record):
    name: str
    """The file's name without `.toml`: how commands name the formula."""
    source: str
    """`package`, `town` or `rig`: which folder it came from."""
    path: Path
    """The file it was read from."""
    description: str
    """What it makes, in words."""
    title: str
    """The convoy's title, with `{{var}}` placeholders."""
    vars: list[Var]
    """The variables it takes, in the order declared."""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """Its tasks as written, placeholders and fan-outs not yet expanded."""

    def to_json(self) -> dict[str, Any]:
        """The formula as `gt formula show --json` gives it."""
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "description": self.description,
            "title": self.title,
            "vars": [
                {"name": v.name, "description": v.description, "default": v.default}
                for v in self.vars
            ],
            "tasks": self.tasks,
        }


def folders(town: Path, rig_clone: Path | None) -> list[tuple[str, Path]]:
    """Where formulas are looked for, later ones overriding earlier ones by name."""
    found = [("package", Path(__file__).parent.parent / "formulas"), ("town", town / "formulas")]
    if rig_clone is not None:
        found.append(("rig", rig_clone / ".gastown" / "formulas"))
    return found


def all_(town: Path, rig_clone: Path | None = None) -> dict[str, Formula]:
    """Every formula by name, each read and checked."""
    out: dict[str, Formula] = {}
    for source, folder in folders(town, rig_clone):
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            out[path.stem] = read(path, source)
    return dict(sorted(out.items()))


def get(town: Path, name: str, rig_clone: Path | None = None) -> Formula:
    """The formula called `name`, from the folder that wins for it; else the input error
    naming those there are."""
    for source, folder in reversed(folders(town, rig_clone)):
        if NAME.fullmatch(name) and (folder / f"{name}.toml").is_file():
            return read(folder / f"{name}.toml", source)
    known = ", ".join(all_(town, rig_clone)) or "none"
    raise NotFound(f"There is no formula '{name}'.", hint=f"The formulas are: {known}.")


def read(path: Path, source: str) -> Formula:
    """Read and check one template, or a PlanError naming the file, the line and the problem."""
    name = path.stem
    where = f"Formula {name} ({path})"
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{where} is not valid TOML: {exc}.") from None
    lines = text.splitlines()

    def line_of(needle: str) -> int:
        return next((i for i, ln in enumerate(lines, 1) if needle in ln), 0)

    for i, ln in enumerate(lines, 1):
        rest = PLACEHOLDER.sub("", ln)
        if "{{" in rest or "}}" in rest:
            raise PlanError(f"{where}, line {i}: a placeholder is not written {{{{name}}}}.")
    if unknown := set(doc) - TOP:
        raise PlanError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}.")
    for key in ("description", "title"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise PlanError(f"{where} needs a {key} (a string).")
    variables = _vars(doc.get("vars", {}), where, lambda n: _declared_at(lines, n))
    tasks = doc.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        raise PlanError(f"{where} lists no tasks.", hint="Add one [[tasks]] table per task.")
    declared = {v.name for v in variables}
    _known(where, [doc["title"]], declared, line_of)
    for n, task in enumerate(tasks, 1):
        if unknown := set(task) - TASK:
            raise PlanError(
                f"{where}, task {n} has unknown field(s): {', '.join(sorted(unknown))}."
            )
        _known(where, _strings(task), declared | ({ITEM} if "each" in task else set()), line_of)
        per = task.get("per", "file")
        if not isinstance(per, str) or (not PLACEHOLDER.search(per) and per not in PER):
            raise PlanError(f"{where}, task {n}: per must be file or package.")
    keys = [str(t.get("key", i)) for i, t in enumerate(tasks, 1)]
    edges = [
        (k, str(need)) for k, t in zip(keys, tasks, strict=True) for need in t.get("needs", [])
    ]
    for k, need in edges:
        if need not in keys:
            raise PlanError(f"{where}, task '{k}': needs '{need}', which is not a task key.")
    if cycle := dag.find_cycle(keys, edges):
        raise PlanError(f"{where}: its tasks' needs form a cycle: {' → '.join(cycle)}.")
    return Formula(name, source, path, doc["description"], doc["title"], variables, tasks)


def _declared_at(lines: list[str], name: str) -> int:
    pattern = re.compile(rf"^\s*(\[vars\.)?{re.escape(name)}\s*[=\]]")
    return next((i for i, ln in enumerate(lines, 1) if pattern.match(ln)), 0)


def _known(where: str, texts: list[str], allowed: set[str], line_of: Any) -> None:
    """Refuse a placeholder that names no variable, at its line."""
    for text in texts:
        for used in PLACEHOLDER.findall(text):
            if used not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise PlanError(
                    f"{where}, line {line_of('{{' + used)}: {{{{{used}}}}} is not one of its "
                    f"variables ({known})."
                )


def _vars(raw: Any, where: str, line_of: Any) -> list[Var]:
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: vars must be a table of variables.")
    out = []
    for name, spec in raw.items():
        line = line_of(name)
        if not isinstance(spec, dict) or not isinstance(spec.get("description"), str):
            raise PlanError(f"{where}, line {line}: variable {name} needs a description.")
        default = spec.get("default")
        if default is not None and not isinstance(default, str):
            raise PlanError(f"{where}, line {line}: variable {name}'s default must be a string.")
        if name == ITEM:
            raise PlanError(f"{where}, line {line}: {ITEM} names an each task's file; rename it.")
        out.append(Var(name, spec["description"], default, line))
    return out


def _strings(task: dict[str, Any]) -> list[str]:
    values = [task.get(k) for k in ("title", "body", "each", "per")]
    values += list(task.get("labels") or [])
    return [v for v in values if isinstance(v, str)]


def values(formula: Formula, given: dict[str, str]) -> dict[str, str]:
    """The variables for a run: each given one declared, each undeclared one refused, each
    required one present."""
    declared = {v.name: v for v in formula.vars}
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise InvalidValue(
                f"Formula {formula.name} has no variable '{name}'; its variables are {known}."
            )
    out: dict[str, str] = {}
    for v in formula.vars:
        if v.name in given:
            out[v.name] = given[v.name]
        elif v.default is not None:
            out[v.name] = v.default
        else:
            raise InvalidValue(
                f"Formula {formula.name} needs --var {v.name}=… (line {v.line}: {v.description}).",
                hint=f"`gt formula show {formula.name}` lists its variables.",
            )
    return out


def fill(text: str, variables: dict[str, str]) -> str:
    """`text` with each `{{var}}` placeholder replaced by its value (every one must be given)."""
    return PLACEHOLDER.sub(lambda m: variables[m.group(1)], text)


def expand(formula: Formula, variables: dict[str, str], items_of: Any) -> plan.Plan:
    """The convoy plan a run makes: placeholders filled, each fan-out task made one task per
    item `items_of(pattern, per)` finds, and needs on a fan-out made needs on all of it."""
    made: dict[str, list[str]] = {}
    tasks: list[dict[str, Any]] = []
    for n, raw in enumerate(formula.tasks, 1):
        key = str(raw.get("key", n))
        base = {k: v for k, v in raw.items() if k not in ("each", "per", "key", "needs")}
        if "each" not in raw:
            made[key] = [key]
            tasks.append({**_filled(base, variables), "key": key, "needs": raw.get("needs", [])})
            continue
        per = fill(raw.get("per", "file"), variables)
        if per not in PER:
            raise InvalidValue(f"Formula {formula.name}: per must be file or package, not '{per}'.")
        items = items_of(fill(raw["each"], variables), per)
        made[key] = [f"{key}:{item}" for item in items]
        for item in items:
            filled = _filled(base, {**variables, ITEM: item})
            tasks.append({**filled, "key": f"{key}:{item}", "needs": raw.get("needs", [])})
    for task in tasks:
        task["needs"] = [k for need in task["needs"] for k in made[str(need)]]
    return plan.parse(
        {"title": fill(formula.title, variables), "tasks": tasks}, f"formula {formula.name}"
    )


def _filled(task: dict[str, Any], variables: dict[str, str]) -> dict[str, Any]:
    out = dict(task)
    for k in ("title", "body"):
        if isinstance(out.get(k), str):
            out[k] = fill(out[k], variables)
    if isinstance(out.get("labels"), list):
        out["labels"] = [fill(str(x), variables) for x in out["labels"]]
    return out


def matching(clone: Path, pattern: str, per: str, rig: str) -> list[str]:
    """The rig's tracked files matching a glob (`**` crosses folders), or their folders."""
    from gastown.git.repo import git

    listed = git("ls-files", "-z", "--", f":(glob){pattern}", cwd=clone, check=False)
    files = [f for f in listed.out.split("\0") if f] if listed.code == 0 else []
    items = sorted({str(Path(f).parent) for f in files} if per == "package" else files)
    if not items:
        raise InvalidValue(
            f"The pattern '{pattern}' matches no file in rig {rig}.",
            hint="Patterns are globs from the rig's root, like src/**/*.py.",
        )
    if len(items) > MAX_ITEMS:
        raise InvalidValue(
            f"The pattern '{pattern}' matches {len(items)} {per}s in rig {rig}; a formula makes "
            f"at most {MAX_ITEMS} beads from one.",
            hint="Narrow the pattern and run the formula once per part.",
        )
    return items


def run(
    ledger: Ledger,
    town: Town,
    name: str,
    given: dict[str, str],
    rig: str,
    staged: bool | None,
    environ: Mapping[str, str],
) -> tuple[Formula, ConvoyView]:
    """Make the convoy a formula describes on `rig`: everything checked first, then the
    convoy and its beads written in one transaction."""
    from gastown.services import convoys
    from gastown.services.listing import require_rig

    with ledger.store.reader() as tx:
        require_rig(tx, rig)
    clone = town.rig_path(rig)
    formula = get(town.path, name, clone)
    variables = values(formula, given)
    made = expand(formula, variables, lambda pattern, per: matching(clone, pattern, per, rig))
    staged, mode = convoys.choose_defaults(ledger, town, rig, environ, staged, None)
    return formula, convoys.create(ledger, made.title or name, rig, made, staged, mode)
