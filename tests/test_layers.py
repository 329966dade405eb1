"""The layers of `gastown`, lowest first, and a check that no module imports upward.

Every module's imports (at the top, inside functions and under `TYPE_CHECKING` alike: each is
a dependency) are read with `ast`, so the check costs no import and sees lazy imports too. A
module may import from its own layer or any lower one. A new package must be placed here, so
the order stays a decision and not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

LAYERS: list[tuple[str, list[str]]] = [
    # Records and pure helpers; anything may import them. `reconciler.budget` is the budgets'
    # records, which the store keeps; `townrun` reads the town's `run/` folder and nothing else.
    (
        "leaf",
        [
            "gastown",
            "gastown.errors",
            "gastown.limits",
            "gastown.record",
            "gastown.model",
            "gastown.clock",
            "gastown.ids",
            "gastown.dag",
            "gastown.knowledge",
            "gastown.llm",
            "gastown.escalation_routes",
            "gastown.scripted",
            "gastown.townrun",
            "gastown.reconciler.budget",
        ],
    ),
    ("settings", ["gastown.config", "gastown.sections"]),
    ("store", ["gastown.store"]),
    ("town", ["gastown.town"]),
    ("edges", ["gastown.git", "gastown.forge", "gastown.runtimes"]),
    # The reconciler's pure half: what the town looks like (`snapshot`), the policies and the
    # plan. Services read the snapshot and the policies; applying the plan sits higher.
    ("plan", ["gastown.reconciler"]),
    ("services", ["gastown.services", "gastown.doctor"]),
    (
        "roles",
        ["gastown.polecat", "gastown.refinery", "gastown.mayor", "gastown.reconciler.apply"],
    ),
    ("web", ["gastown.web"]),
    ("process", ["gastown.process", "gastown.workers"]),
    # The TUI is a front end of the command line: it is handed the CLI's `App` and prints
    # events the way `gt feed` does, so it sits with the CLI.
    ("cli", ["gastown.cli", "gastown.tui", "gastown.__main__"]),
]

KNOWN_UPWARD: dict[tuple[str, str], str] = {}
"""Upward imports that stay for now, each with why it needs a bigger move than a rename (none
today: add one only with its reason, and the test below says when it is no longer needed)."""


def layer_of(module: str) -> int:
    """The index in `LAYERS` of the longest name that `module` is or is inside."""
    best, found = -1, -1
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), index
    if found < 0:
        raise AssertionError(f"{module} is in no layer: place its package in LAYERS.")
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """The `gastown` modules `path` imports (a name imported from a package, when it is a
    module, counts as that module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                inner = f"{source}.{alias.name}"
                found.add(inner if is_module(inner) else source)
    return {name for name in found if name == "gastown" or name.startswith("gastown.")}


def upward() -> dict[tuple[str, str], str]:
    """Every import of a module from a higher layer, with the two layers' names."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted((SRC / "gastown").rglob("*.py")):
        importer = module_name(path)
        for imported in sorted(imports(path)):
            low, high = layer_of(importer), layer_of(imported)
            if high > low:
                out[(importer, imported)] = f"{LAYERS[low][0]} imports {LAYERS[high][0]}"
    return out


def test_every_module_has_a_layer() -> None:
    for path in (SRC / "gastown").rglob("*.py"):
        layer_of(module_name(path))


def test_no_module_imports_from_a_higher_layer() -> None:
    found = {pair: why for pair, why in upward().items() if pair not in KNOWN_UPWARD}
    assert not found, "Upward imports:\n" + "\n".join(
        f"  {importer} imports {imported} ({why})" for (importer, imported), why in found.items()
    )


def test_each_known_exception_is_still_needed() -> None:
    found = upward()
    stale = [pair for pair in KNOWN_UPWARD if pair not in found]
    assert not stale, f"No longer imported, drop from KNOWN_UPWARD: {stale}"


def test_the_check_sees_imports_made_inside_a_function() -> None:
    # `services.controls` wakes the town from inside a function; the check must see it.
    assert "gastown.townrun.wake" in imports(SRC / "gastown" / "services" / "controls.py")
    assert layer_of("gastown.services.controls") > layer_of("gastown.townrun.wake")
