"""Every public function and record field of the glossary, the store and the services says
what it is: a docstring on each (a record field's sits on the line after it)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "gastown"
DOCUMENTED = [SRC / "model.py", *sorted((SRC / "store").glob("*.py"))]
DOCUMENTED += sorted((SRC / "services").glob("*.py"))


def is_doc(node: ast.stmt | None) -> bool:
    """Whether `node` is a bare string: a docstring where it stands."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def is_record(cls: ast.ClassDef) -> bool:
    """Whether `cls` is a record or a protocol, whose annotated names are its fields."""
    bases = {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}
    decorators = {
        getattr(d, "id", getattr(getattr(d, "func", None), "id", "")) for d in cls.decorator_list
    }
    return bool(bases & {"Record", "Protocol", "NamedTuple"}) or "dataclass" in decorators


def undocumented(path: Path) -> list[str]:
    """The public functions, methods and record fields in `path` without a docstring."""
    missing: list[str] = []

    def walk(body: list[ast.stmt], owner: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if not node.name.startswith("_") and ast.get_docstring(node) is None:
                    missing.append(f"{path.name}:{node.lineno} {owner}{node.name}")
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                if is_record(node):
                    for j, item in enumerate(node.body):
                        if (
                            isinstance(item, ast.AnnAssign)
                            and isinstance(item.target, ast.Name)
                            and not item.target.id.startswith("_")
                            and "ClassVar" not in ast.unparse(item.annotation)
                            and not is_doc(node.body[j + 1] if j + 1 < len(node.body) else None)
                        ):
                            missing.append(
                                f"{path.name}:{item.lineno} {node.name}.{item.target.id}"
                            )
                walk(node.body, f"{node.name}.")

    walk(ast.parse(path.read_text()).body, "")
    return missing


def test_every_public_function_and_record_field_has_a_docstring() -> None:
    """Given the glossary, the store and the services, then nothing public is left unsaid."""
    missing = [line for path in DOCUMENTED for line in undocumented(path)]

    assert missing == []
