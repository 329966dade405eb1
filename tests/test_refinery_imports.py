"""The refinery's merge strategy is one object chosen once per step, and its modules import in
one direction: the step knows the strategy, the strategy knows landing and pull requests, and
neither of those imports the step or the strategy back at run time (only for type hints).

Imports are read with `ast` (top-level and inside functions; `TYPE_CHECKING` blocks left out,
since they never run), so the check costs no import.
"""

from __future__ import annotations

import ast
from pathlib import Path

REFINERY = Path(__file__).resolve().parent.parent / "src" / "gastown" / "refinery"


def _runtime_imports(path: Path) -> set[str]:
    """The refinery modules `path` imports when it runs."""
    tree = ast.parse(path.read_text("utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module == "gastown.refinery":
            found |= {a.name for a in node.names}
        elif node.module.startswith("gastown.refinery."):
            found.add(node.module.split(".")[2])
    return found - {path.stem}


def _graph() -> dict[str, set[str]]:
    return {p.stem: _runtime_imports(p) for p in REFINERY.glob("*.py") if p.stem != "__init__"}


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def test_no_refinery_module_imports_itself_back_at_run_time() -> None:
    graph = _graph()
    assert {"step", "strategy", "land", "landing", "pr"} <= graph.keys()
    cycles = sorted(name for name in graph if name in _reaches(graph, name))
    assert cycles == []


def test_only_the_step_chooses_a_strategy() -> None:
    choosers = sorted(
        p.stem
        for p in REFINERY.parent.rglob("*.py")
        if "strategy_for" in p.read_text("utf-8") and p.stem != "strategy"
    )
    assert choosers == ["step"]
