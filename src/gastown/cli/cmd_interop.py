"""`gt export` and `gt import`: the town as beads JSONL, so `bd` users can move work in and out."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli.app import App
from gastown.cli.render import plural

STALE_SHOWN = 10


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    ex = sub.add_parser(
        "export",
        parents=[shared],
        help="write the town as beads JSONL",
        description="Every bead and convoy as one line of the JSONL `bd export` writes, sorted "
        "by id. Gas Town's own fields ride in metadata.gastown; convoys are epics.",
    )
    ex.add_argument("--out", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    ex.set_defaults(handler=export)

    im = sub.add_parser(
        "import",
        parents=[shared],
        help="read beads JSONL into the town",
        description="Upsert every issue of a beads JSONL file by id. The whole file is checked "
        "first and written in one transaction; lines older than the town's copy are skipped; "
        "labels and dependencies are added, never removed. Importing twice changes nothing.",
    )
    im.add_argument("file", metavar="FILE", help="a beads JSONL file (as bd export writes)")
    im.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    im.set_defaults(handler=import_)


def export(app: App) -> int:
    from gastown.services import interop

    if app.args.out is None:
        text, _, _ = interop.export_text(app.ledger)
        app.out.write(text)
        return 0
    done = interop.export_file(app.ledger, app.path(app.args.out), app.args.out)
    app.emit(
        done.to_json(),
        f"Exported {plural(done.beads, 'bead')} and {plural(done.convoys, 'convoy')} "
        f"to {done.file}",
    )
    return 0


def import_(app: App) -> int:
    from gastown.services import interop

    def progress(message: str) -> None:
        app.err.write(message + "\n")

    done = interop.import_file(
        app.ledger,
        app.path(app.args.file),
        app.args.file,
        dry_run=app.args.dry_run,
        progress=None if app.json else progress,
    )

    def human() -> None:
        counts = (
            f"{done.created} created, {done.updated} updated, {done.unchanged} unchanged, "
            f"{done.stale} stale, {done.skipped} skipped"
        )
        if done.dry_run:
            app.print(f"Dry run of {done.file}, nothing written: would be {counts}.")
        else:
            app.print(f"Imported {done.file}: {counts}.")
        if done.stale_ids:
            shown = ", ".join(done.stale_ids[:STALE_SHOWN])
            more = f" and {len(done.stale_ids) - STALE_SHOWN} more" if done.stale > 10 else ""
            app.print(f"  Stale (the town's copy is newer): {shown}{more}.")
        if done.skipped:
            app.print("  Skipped lines are bd memories or deleted (tombstone) issues.")
        for rig in done.missing_rigs:
            app.print(f"  This town has no rig '{rig}' yet: gt rig add {rig} GIT_URL")

    app.emit(done.to_json(), human)
    return 0
