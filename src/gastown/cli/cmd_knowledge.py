"""`gt knowledge`: the town's institutional knowledge (add, list, show, edit, rm, accept,
reject, export), and `gt remember TEXT`, a polecat's note from inside its run."""

from __future__ import annotations

import argparse
from typing import Any

from gastown.cli import agent_client, args
from gastown.cli.app import App
from gastown.cli.render import plural, table

VERBS = ("add", "list", "show", "edit", "rm", "accept", "reject", "export")


def register(sub: Any, shared: argparse.ArgumentParser) -> None:
    top = sub.add_parser(
        "knowledge",
        parents=[shared],
        help="notes agents get about a rig or the town",
        description="Institutional knowledge: short notes about a rig or the whole town. "
        "Accepted notes reach every polecat's prompt (the most relevant to its bead), the "
        "reviewer and the mayor.",
    )
    verbs = top.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", parents=[shared], help="write a note (accepted at once)")
    add.add_argument("text", help="what agents should know, in a sentence or two")
    add.add_argument("--rig", metavar="RIG", help="about this rig only (default: the town)")
    add.set_defaults(handler=add_note)

    listing = verbs.add_parser("list", parents=[shared], help="the notes, oldest first")
    listing.add_argument("--rig", metavar="RIG", help="this rig's notes and the town's")
    listing.add_argument("--all", action="store_true", help="include rejected notes")
    listing.set_defaults(handler=list_notes)

    for verb, text, handler in (
        ("show", "one note and where it came from", show_note),
        ("rm", "delete a note", remove_note),
        ("accept", "let agents have a proposed note", accept_note),
        ("reject", "keep a note from agents", reject_note),
    ):
        one = verbs.add_parser(verb, parents=[shared], help=text)
        one.add_argument("id", type=args.record_id, metavar="ID", help="the note's number")
        one.set_defaults(handler=handler)

    edit = verbs.add_parser("edit", parents=[shared], help="change a note's text")
    edit.add_argument("id", type=args.record_id, metavar="ID", help="the note's number")
    edit.add_argument("text", help="the new text")
    edit.set_defaults(handler=edit_note)

    export = verbs.add_parser("export", parents=[shared], help="the accepted notes as Markdown")
    export.add_argument("--rig", metavar="RIG", help="this rig's notes and the town's")
    export.set_defaults(handler=export_notes)

    remember = sub.add_parser(
        "remember",
        parents=[shared],
        help="(agents) propose a note for the agents after you",
        description="Propose a note about this rig (what you learned that the next polecat "
        "should know); a person or the mayor accepts it, unless knowledge.auto_accept is on.",
    )
    remember.add_argument("text", help="the note, in a sentence or two")
    remember.set_defaults(handler=remember_note)


def _service() -> Any:
    from gastown.services import knowledge

    return knowledge


def _said(note: Any) -> str:
    where = f"rig {note.rig}" if note.rig else "the town"
    return f"note {note.id} ({note.status}, {where})"


def add_note(app: App) -> int:
    note = _service().add(app.ledger, app.args.text, rig=app.args.rig)
    app.emit(note.to_json(), f"Kept {_said(note)}.")
    return 0


def list_notes(app: App) -> int:
    from gastown.knowledge import STATUSES

    statuses = STATUSES if app.args.all else ("proposed", "accepted")
    found = _service().listing(app.ledger, rig=app.args.rig, statuses=statuses)

    def human() -> None:
        if not found:
            app.print("No notes yet; `gt knowledge add TEXT` writes one.")
            return
        rows = [
            (n.id, n.status, n.rig or "(town)", n.source, n.text.splitlines()[0][:80])
            for n in found
        ]
        app.print(table(["ID", "STATUS", "RIG", "FROM", "NOTE"], rows))
        proposed = sum(n.status == "proposed" for n in found)
        app.print(
            f"\n{plural(len(found), 'note')}"
            + (f", {proposed} proposed: `gt knowledge accept ID`." if proposed else ".")
        )

    app.emit([n.to_json() for n in found], human)
    return 0


def show_note(app: App) -> int:
    n = _service().show(app.ledger, app.args.id)

    def human() -> None:
        app.print(f"Note {n.id}: {n.status}, about {('rig ' + n.rig) if n.rig else 'the town'}")
        app.print(f"From {n.source} ({n.author}), {n.created_at[:19].replace('T', ' ')} UTC")
        for label, value in (
            ("Bead", n.bead_id),
            ("Run", n.run_id),
            ("Merged into", n.merged_into),
        ):
            if value is not None:
                app.print(f"{label}: {value}")
        app.print("")
        app.print(n.text)

    app.emit(n.to_json(), human)
    return 0


def edit_note(app: App) -> int:
    note = _service().edit(app.ledger, app.args.id, app.args.text)
    app.emit(note.to_json(), f"Changed {_said(note)}.")
    return 0


def remove_note(app: App) -> int:
    note = _service().remove(app.ledger, app.args.id)
    app.emit(note.to_json(), f"Deleted note {note.id}.")
    return 0


def accept_note(app: App) -> int:
    note = _service().accept(app.ledger, app.args.id)
    app.emit(note.to_json(), f"Accepted {_said(note)}: agents get it from now on.")
    return 0


def reject_note(app: App) -> int:
    note = _service().reject(app.ledger, app.args.id)
    app.emit(note.to_json(), f"Rejected {_said(note)}: agents no longer get it.")
    return 0


def export_notes(app: App) -> int:
    from gastown.knowledge import markdown

    found = _service().listing(app.ledger, rig=app.args.rig, statuses=("accepted",))
    text = markdown(found, app.town.name)
    app.emit({"markdown": text, "notes": [n.to_json() for n in found]}, text.rstrip("\n"))
    return 0


def remember_note(app: App) -> int:
    answer = agent_client.call(app, "POST", "remember", {"text": app.args.text})
    app.emit(
        answer,
        f"Proposed note {answer['id']}."
        if answer["status"] == "proposed"
        else f"Kept note {answer['id']}.",
    )
    return 0
