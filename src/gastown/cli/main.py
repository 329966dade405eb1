"""`gt`: the Gas Town command line.

Exit status: 0 success, 1 the request failed (unknown bead, illegal transition, git refused),
2 the input was malformed (bad flag or value, invalid plan or JSONL file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from gastown import __version__
from gastown.cli import cmd_beads, cmd_convoys, cmd_interop, cmd_rigs, cmd_town
from gastown.cli.app import App
from gastown.errors import GastownError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (one sentence, exit 2) instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        text = message[0].upper() + message[1:]
        raise UsageError(text.rstrip(".") + ".", hint=f"Run `{self.prog} --help` for usage.")


def common() -> argparse.ArgumentParser:
    """Options every command takes."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", action="store_true", help="print machine-readable JSON")
    shared.add_argument(
        "--town", metavar="PATH", help="the town folder (default: GT_TOWN, else search upward)"
    )
    return shared


def build_parser() -> Parser:
    shared = common()
    parser = Parser(
        prog="gt",
        description="Gas Town: coding agents working your repositories in parallel.",
        parents=[shared],
    )
    parser.add_argument("--version", action="version", version=f"gt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (cmd_town, cmd_rigs, cmd_beads, cmd_convoys, cmd_interop):
        module.register(sub, shared)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in argv
    parser = build_parser()
    app: App | None = None
    try:
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(out)
            return 0 if not argv else 2
        app = App(args, environ=environ or os.environ, cwd=cwd or Path.cwd(), out=out, err=err)
        return handler(app) or 0
    except GastownError as exc:
        report(exc, err, wants_json)
        return exc.exit_status
    except SystemExit as done:  # --help and --version print, then exit
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if (environ or os.environ).get("GT_DEBUG"):
            traceback.print_exc(file=err)
        failure = GastownError(
            f"Unexpected error: {type(exc).__name__}: {exc}",
            hint="Run again with GT_DEBUG=1 for the traceback.",
        )
        report(failure, err, wants_json)
        return 1
    finally:
        if app is not None:
            app.close()


def report(exc: GastownError, err: TextIO, wants_json: bool) -> None:
    if wants_json:
        err.write(json.dumps({"error": exc.to_json()}) + "\n")
        return
    err.write(f"gt: {exc.message}\n")
    if exc.hint:
        err.write(f"    {exc.hint}\n")


if __name__ == "__main__":
    raise SystemExit(main())
