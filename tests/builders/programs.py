"""Fake agent CLIs: scripts on PATH that answer `--version` and note that they ran."""

from __future__ import annotations

from pathlib import Path


def program(folder: Path, name: str, version_line: str) -> Path:
    """A fake CLI: prints `version_line` for `--version` (counting each ask in `NAME.asked`)
    and writes `NAME.ran` when started any other way."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then\n'
        f"  echo asked >> '{folder / name}.asked'\n"
        f"  printf '%s\\n' '{version_line}'\n"
        "  exit 0\n"
        "fi\n"
        f"echo ran > '{folder / name}.ran'\n"
    )
    path.chmod(0o755)
    return path
