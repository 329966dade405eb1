"""`gt`: the Gas Town command line.

Exit status: 0 success, 1 the request failed (unknown bead, illegal transition, git refused),
2 the input was malformed (bad flag or value, invalid plan or JSONL file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn, TextIO

from gastown import __version__
from gastown.cli.app import App
from gastown.errors import GastownError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (one sentence, exit 2) instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        text = message[0].upper() + message[1:]
        raise UsageError(text.rstrip(".") + ".", hint=f"Run `{self.prog} --help` for usage.")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse asks shutil for the terminal width on every add_argument; importing
        # shutil costs more than the rest of building a command's parser.
        make: Any = self.formatter_class
        return make(prog=self.prog, width=_width())  # type: ignore[no-any-return]


@cache
def _translate_once() -> None:
    """argparse translates each of its messages with `gettext.gettext`, which searches the
    locale folders for a catalog on every call (dozens of times while a parser is built);
    give argparse the same catalog, looked up once."""
    import gettext

    domain = gettext.textdomain()
    folder = gettext.bindtextdomain(domain)
    try:
        # Without the folder there is no catalog to find (nor a need to import `locale`,
        # as looking for one does).
        catalog = (
            gettext.translation(domain, folder, fallback=True)
            if os.path.isdir(folder)
            else gettext.NullTranslations()
        )
    except OSError:  # an unreadable catalog: gettext.gettext would return messages unchanged
        catalog = gettext.NullTranslations()
    vars(argparse).update(_=catalog.gettext, ngettext=catalog.ngettext)


@cache
def _width() -> int:
    """The help text width: the terminal's, asked once per parser (argparse would ask for
    every option)."""
    try:
        columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
    except (ValueError, OSError):
        columns = 80
    return max(columns - 2, 40)


def common() -> argparse.ArgumentParser:
    """Options every command takes, for the parsers of commands: given before the command's
    words or after them, alike (`gt --json ready` is `gt ready --json`). argparse copies
    every value a subcommand's parser holds over what the parsers above it parsed, defaults
    included; so here they have none (SUPPRESS), and only the top-level parser gives them."""
    shared = Parser(add_help=False)
    _shared_options(shared, top=False)
    return shared


def _shared_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print machine-readable JSON",
    )
    parser.add_argument(
        "--town",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="the town folder (default: GT_TOWN, else search upward)",
    )


COMMANDS = {
    "init": "cmd_town",
    "config": "cmd_town",
    "events": "cmd_town",
    "feed": "cmd_town",
    "rig": "cmd_rigs",
    "bead": "cmd_beads",
    "ready": "cmd_beads",
    "blocked": "cmd_beads",
    "dep": "cmd_beads",
    "sling": "cmd_beads",
    "convoy": "cmd_convoys",
    "formula": "cmd_formulas",
    "export": "cmd_interop",
    "import": "cmd_interop",
    "scripted-model": "cmd_scripted",
    "demo": "cmd_demo",
    "agents": "cmd_runs",
    "runs": "cmd_runs",
    "peek": "cmd_runs",
    "agent": "cmd_runs",
    "nudge": "cmd_runs",
    "up": "cmd_process",
    "down": "cmd_process",
    "status": "cmd_process",
    "pause": "cmd_control",
    "resume": "cmd_control",
    "drain": "cmd_control",
    "dashboard": "cmd_dashboard",
    "done": "cmd_agent",
    "escalate": "cmd_agent",
    "checkpoint": "cmd_agent",
    "mail": "cmd_agent",
    "inbox": "cmd_inbox",
    "prime": "cmd_agent",
    "escalations": "cmd_escalations",
    "escalation": "cmd_escalations",
    "mayor": "cmd_mayor",
    "mq": "cmd_refinery",
    "mr": "cmd_refinery",
    "refinery": "cmd_refinery",
    "review": "cmd_review",
    "triage": "cmd_mayor",
    "costs": "cmd_costs",
    "knowledge": "cmd_knowledge",
    "remember": "cmd_knowledge",
    "doctor": "cmd_doctor",
    "worker": "cmd_worker",
}
"""Which module defines each command: a command imports and builds only its own module."""


def words_of(argv: Sequence[str]) -> list[str]:
    """The words of `argv` (the command, its action, ...), skipping options and the value
    of --town (the only shared option that takes one)."""
    words: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--town":
            skip = True
        elif not token.startswith("-"):
            words.append(token)
    return words


def build_parser(command: str | None = None, action: str | None = None) -> Parser:
    """The parser for `command` alone (fast; for some commands, with `action` alone among
    its actions), or for every command when None or unknown."""
    _translate_once()
    _width.cache_clear()
    shared = common()
    parser = Parser(
        prog="gt", description="Gas Town: coding agents working your repositories in parallel."
    )
    _shared_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"gt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    if command in COMMANDS:
        module = import_module(f"gastown.cli.{COMMANDS[command]}")
        # A module may build the parser of one of its commands alone.
        one = getattr(module, "register_command", None)
        if one is not None:
            one(sub, shared, command, action)
        else:
            module.register(sub, shared)
        return parser
    for name in sorted(set(COMMANDS.values()), key=list(COMMANDS.values()).index):
        import_module(f"gastown.cli.{name}").register(sub, shared)
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
    words = words_of(argv)
    parser = build_parser(*words[:2])
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
            import traceback

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


def run() -> NoReturn:
    """The `gt` program (and `python -m gastown`): run the command line, exit with its status.

    What starting made (modules, classes, functions) lives as long as the process, so it is
    frozen out of the garbage collector first (`gc.freeze`): no collection, during the command
    or at exit, walks it again, which saves a short command a tenth of its time. `main`, which
    tests call in-process, leaves the collector alone."""
    import gc

    gc.freeze()
    raise SystemExit(main())


if __name__ == "__main__":
    run()
