"""What an event says to a person: one sentence with titles, its ids kept as references.

`say(event, names)` turns one ledger event (the dict `Event.to_json` gives) into a `Sentence`:
words, and `Ref`s to the beads, convoys, polecats and rigs it is about, so the terminal can
print `'Add a clap function' (gt-4g68a)` and the dashboard can link the same words. `names`
holds the titles and polecats the event itself does not carry (`sentence_names.load` reads
them for a batch of events). `SENTENCES` has one entry per event kind the town records; a
test holds it to every kind the code emits. Pure: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RefKind = Literal["bead", "convoy", "agent", "rig"]


@dataclass(frozen=True)
class Ref:
    """Something a sentence names: shown as `label`, linked (on the dashboard) by `id`."""

    kind: RefKind
    """What it names: a bead, a convoy, an agent or a rig."""
    id: str
    """Its id (a polecat's or rig's name), for the dashboard's link."""
    label: str
    """How the sentence shows it: a title, or the id itself."""


Part = str | Ref


@dataclass(frozen=True)
class Sentence:
    parts: tuple[Part, ...]
    """Text and the things it names, in reading order."""
    why: str | None = None
    """The event's reason when the sentence does not already say it."""

    def text(self, ids: bool = True) -> str:
        """The sentence as plain text; with `ids`, a titled bead or convoy keeps its id."""
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
            elif ids and p.kind in ("bead", "convoy") and p.label != p.id:
                out.append(f"{p.label} ({p.id})")
            else:
                out.append(p.label)
        said = "".join(out)
        return f"{said} ({self.why})" if self.why else said

    def to_json(self) -> list[dict[str, str]]:
        """Parts as the dashboard renders them: `{"text"}` or `{"text", "kind", "id"}`."""
        return [
            {"text": p} if isinstance(p, str) else {"text": p.label, "kind": p.kind, "id": p.id}
            for p in self.parts
        ]


@dataclass(frozen=True)
class Names:
    """Titles and polecats an event refers to by id only."""

    beads: Mapping[str, str] = field(default_factory=dict)
    """Bead id to its title."""
    convoys: Mapping[str, str] = field(default_factory=dict)
    """Convoy id to its title."""
    runs: Mapping[str, str] = field(default_factory=dict)
    """Run id to its polecat."""
    targets: Mapping[str, str] = field(default_factory=dict)
    """Merge request id to the branch it lands on."""


E = Mapping[str, Any]
Words = list[Part] | tuple[list[Part], str | None]


@dataclass(frozen=True)
class _Ctx:
    e: E
    names: Names

    @property
    def after(self) -> dict[str, Any]:
        return dict(self.e.get("after") or {})

    @property
    def before(self) -> dict[str, Any]:
        return dict(self.e.get("before") or {})

    @property
    def who(self) -> str:
        actor = str(self.e.get("actor") or "someone")
        return {"refinery": "the refinery", "town": "the town", "mayor": "the mayor"}.get(
            actor, actor
        )

    def by(self) -> str:
        """Who asked, for events the town process records on someone's behalf (`by NAME`)."""
        said = str(self.e.get("reason") or "")
        return said.removeprefix("by ") if said.startswith("by ") else self.who

    def bead(self, bead_id: Any = None, missing: str = "") -> Part:
        """The event's bead, or another one it names (`missing` when that name is absent)."""
        found = str(bead_id or "") if missing else bead_id or self.e.get("bead_id")
        if not found:
            return missing or "a bead"
        title = self.names.beads.get(found) or (self.after.get("title") if not missing else None)
        return Ref("bead", found, f"'{title}'" if title else found)

    def convoy(self, convoy_id: str | None = None) -> Part:
        found = convoy_id or self.e.get("convoy_id")
        if not found:
            return "a convoy"
        title = self.names.convoys.get(found) or (
            self.after.get("title") if not convoy_id else None
        )
        return Ref("convoy", found, f"convoy '{title}'" if title else f"convoy {found}")

    def polecat(self) -> Part:
        a = self.after
        name = a.get("polecat") or self.names.runs.get(str(a.get("run") or a.get("run_id") or ""))
        return Ref("agent", str(name), str(name)) if name else "a polecat"

    def rig(self) -> Part:
        name = self.e.get("rig")
        return Ref("rig", str(name), f"rig {name}") if name else "the town"

    def where(self) -> list[Part]:
        """` on rig X` or nothing: for settings and pauses, which are town-wide otherwise."""
        return [" on ", self.rig()] if self.e.get("rig") else []

    def pr(self) -> str:
        number = self.after.get("pr")
        return f"pull request #{number}" if number else "its pull request"


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _value(v: Any) -> str:
    if v is None:
        return "off"
    if isinstance(v, bool):
        return "yes" if v else "no"
    text = str(v)
    return text if len(text) <= 60 else text[:59] + "…"


STATUS_WORDS = {
    "open": "is open",
    "in_progress": "is in progress",
    "in_review": "went to review",
    "closed": "is closed",
    "failed": "failed",
}


def _bead_updated(c: _Ctx) -> Words:
    a, b = c.after, c.before
    if set(a) == {"held"}:
        return [c.who, " held " if a["held"] else " let go of (unheld) ", c.bead()]
    if set(a) <= {"status", "closed_at", "close_reason"} and "status" in a:
        return [c.bead(), " ", STATUS_WORDS.get(str(a["status"]), f"is {a['status']}")]
    changes = []
    for key in sorted(set(a) | set(b)):
        if key in ("updated_at", "closed_at", "started_at"):
            continue
        if key == "priority":
            changes.append(f"priority P{b.get(key, '?')} → P{a.get(key, '?')}")
        else:
            changes.append(f"{key.replace('_', ' ')} {_value(a.get(key))}")
    said = ": " + ", ".join(changes) if changes else ""
    return [c.who, " changed ", c.bead(), said]


def _run_ended(c: _Ctx) -> Words:
    a = c.after
    if a.get("status") == "succeeded":
        cost = a.get("cost_usd")
        spent = f" (${float(cost):.4f})" if isinstance(cost, int | float) and cost else ""
        return [c.polecat(), " finished ", c.bead(), spent], None
    return [c.polecat(), "'s run on ", c.bead(), " failed"]


def _budget(level: str) -> Callable[[_Ctx], Words]:
    def said(c: _Ctx) -> Words:
        a = c.after
        what: Part = (
            c.bead() if c.e.get("bead_id") else c.convoy() if c.e.get("convoy_id") else c.rig()
        )
        spent, limit = a.get("spent"), a.get("limit")
        money = (
            f" (${float(spent):.2f} of ${float(limit):.2f})" if spent is not None and limit else ""
        )
        verb = " has used most of its budget" if level == "warning" else " used up its budget"
        return [what, verb + money], None

    return said


def _reviewed(c: _Ctx) -> Words:
    verdict = str(c.after.get("verdict") or "")
    if verdict == "approve":
        return ["the reviewer approved ", c.bead()]
    if verdict in ("request_changes", "reject"):
        return ["the reviewer asked for changes to ", c.bead()]
    return ["the reviewer looked at ", c.bead()]


def _convoy_status(verb: str) -> Callable[[_Ctx], Words]:
    return lambda c: [c.convoy(), verb]


SENTENCES: dict[str, Callable[[_Ctx], Words]] = {
    "town.created": lambda c: [c.who, f" created the town {c.after.get('name', '')}".rstrip()],
    "rig.added": lambda c: [c.who, " added ", c.rig(), f" ({c.after.get('url', '')})"],
    "rig.removed": lambda c: [c.who, " removed ", c.rig()],
    "config.set": lambda c: [
        c.who,
        f" set {c.after.get('key', 'a setting')} to {_value(c.after.get('value'))}",
        *c.where(),
    ],
    "config.unset": lambda c: [c.who, f" unset {c.before.get('key', 'a setting')}", *c.where()],
    "dispatch.paused": lambda c: [c.who, " paused dispatch", *c.where()],
    "dispatch.resumed": lambda c: ([c.by(), " resumed dispatch", *c.where()], None),
    "budget.granted": lambda c: ([c.by(), " granted used-up budgets again", *c.where()], None),
    "budget.warning": _budget("warning"),
    "budget.exceeded": _budget("exceeded"),
    "bead.created": lambda c: (
        ([c.who, " created ", c.bead(), " in ", c.convoy()], None)
        if c.e.get("convoy_id")
        else [c.who, " created ", c.bead()]
    ),
    "bead.imported": lambda c: [c.who, " imported ", c.bead()],
    "bead.updated": _bead_updated,
    "bead.status_changed": _bead_updated,
    "bead.closed": lambda c: [c.who, " closed ", c.bead()],
    "bead.reopened": lambda c: [c.who, " reopened ", c.bead()],
    "bead.slung": lambda c: [c.who, " slung ", c.bead()],
    "bead.dispatched": lambda c: (
        [
            c.who,
            " gave ",
            c.bead(),
            " to ",
            Ref("agent", a, a) if (a := str(c.after.get("assignee") or "")) else "a polecat",
        ],
        None,
    ),
    "bead.claimed": lambda c: [
        str(c.after.get("assignee") or c.who),
        " claimed ",
        c.bead(),
    ],
    "bead.awaiting_children": lambda c: ([c.bead(), " waits for its children to close"], None),
    "bead.issue_closed": lambda c: [c.bead(), "'s issue was closed"],
    "dep.added": lambda c: (
        [
            c.who,
            " made ",
            c.bead(),
            " wait for ",
            c.bead(c.after.get("depends_on"), "another bead"),
        ],
        None,
    ),
    "dep.removed": lambda c: (
        [
            c.who,
            " let ",
            c.bead(),
            " stop waiting for ",
            c.bead(c.before.get("depends_on"), "another bead"),
        ],
        None,
    ),
    "convoy.created": lambda c: (
        [c.who, " created ", c.convoy(), f" with {_plural(c.after.get('beads', 0), 'bead')}"],
        None,
    ),
    "convoy.imported": lambda c: [c.who, " imported ", c.convoy()],
    "convoy.updated": lambda c: [c.who, " changed ", c.convoy()],
    "convoy.started": lambda c: [c.who, " started ", c.convoy()],
    "convoy.bead_added": lambda c: ([c.who, " added ", c.bead(), " to ", c.convoy()], None),
    "convoy.bead_removed": lambda c: (
        [c.who, " took ", c.bead(), " out of ", c.convoy(str(c.before.get("convoy_id") or ""))],
        None,
    ),
    "convoy.landed": _convoy_status(" landed"),
    "convoy.cancelled": _convoy_status(" was cancelled"),
    "convoy.reopened": _convoy_status(" is open again"),
    "run.queued": lambda c: (
        [
            c.polecat(),
            " is getting ready to work on ",
            c.bead(),
            f" (attempt {c.after.get('attempt', 1)}, {c.after.get('runtime', '?')})",
        ],
        None,
    ),
    "run.started": lambda c: [c.polecat(), " started ", c.bead()],
    "run.primed": lambda c: [c.polecat(), " read its instructions for ", c.bead()],
    "run.status": lambda c: ([c.polecat(), f" says: {c.after.get('text', '')}"], None),
    "run.checkpoint": lambda c: [c.polecat(), " saved a checkpoint on ", c.bead()],
    "run.done": lambda c: (
        [c.polecat(), " said it is done with ", c.bead(), f": {c.after.get('summary', '')}"],
        None,
    ),
    "run.done_repeated": lambda c: [c.polecat(), " said again it is done with ", c.bead()],
    "run.adopted": lambda c: [c.who, " took over ", c.polecat(), "'s run on ", c.bead()],
    "run.ended": _run_ended,
    "agent.nudged": lambda c: (
        [c.who, " told ", c.polecat(), f": “{c.e.get('reason') or ''}”"],
        None,
    ),
    "agent.stop": lambda c: ([c.by(), " stopped ", c.polecat(), " on ", c.bead()], None),
    "agent.reset": lambda c: ([c.by(), " reset ", c.polecat(), " on ", c.bead()], None),
    "mail.sent": lambda c: [f"{c.after.get('from', c.who)} wrote to {c.after.get('to', '?')}"],
    "mail.checked": lambda c: [
        f"{c.after.get('recipient', c.who)} read "
        + _plural(len(c.after.get("ids") or []), "message")
    ],
    "escalation.raised": lambda c: (
        [c.who, f" raised a {c.after.get('severity', '')} escalation".replace("  ", " ")]
        + ([" on ", c.bead()] if c.e.get("bead_id") else [])
        + [f": {c.e.get('reason') or ''}"],
        None,
    ),
    "escalation.acknowledged": lambda c: [
        c.who,
        f" acknowledged escalation #{c.after.get('id', '?')}",
    ],
    "escalation.bumped": lambda c: [
        f"escalation #{c.after.get('id', '?')} went up to {c.after.get('severity', '?')}"
    ],
    "escalation.routed": lambda c: [
        f"escalation #{c.after.get('id', '?')} was sent to {c.after.get('route', '?')}"
    ],
    "escalation.route_failed": lambda c: [
        f"escalation #{c.after.get('id', '?')} could not be sent to {c.after.get('route', '?')}"
    ],
    "mr.created": lambda c: (
        [
            c.bead(),
            " went to the refinery: "
            + _plural(c.after.get("commits", "?"), "commit")
            + f" on {c.after.get('branch', '?')}",
        ],
        None,
    ),
    "mr.testing": lambda c: ([c.who, " is testing ", c.bead()], None),
    "mr.reviewed": _reviewed,
    "mr.review_posted": lambda c: (
        [c.who, " posted its review of ", c.bead(), f" on {c.pr()}"],
        None,
    ),
    "mr.pr_opened": lambda c: ([c.who, " opened a pull request for ", c.bead()], None),
    "mr.pr_checked": lambda c: [c.who, " checked the pull request of ", c.bead()],
    "mr.pr_feedback": lambda c: ["the pull request of ", c.bead(), " has new feedback"],
    "mr.pushed": lambda c: ([c.who, " pushed ", c.bead(), f" to {c.pr()}"], None),
    "mr.merged": lambda c: (
        [
            c.who,
            " landed ",
            c.bead(),
            f" on {c.names.targets.get(str(c.after.get('mr')), 'its target')}",
        ],
        c.e.get("reason"),
    ),
    "mr.held": lambda c: [c.who, " held ", c.bead()],
    "mr.failed": lambda c: [c.who, " could not land ", c.bead()],
    "mr.rework": lambda c: [c.who, " sent ", c.bead(), " back for rework"],
    "mr.requeued": lambda c: [c.who, " put ", c.bead(), " back in the merge queue"],
    "pr.babysat": lambda c: [
        c.who,
        f" took in pull request #{c.after.get('pr', '?')} as ",
        c.bead(),
    ],
    "pr.reviewed": lambda c: [c.who, f" reviewed pull request #{c.after.get('pr', '?')}"],
    "issue.linked": lambda c: [
        c.bead(),
        f" came from issue #{c.after.get('number', '?')} of {c.after.get('repo', '?')}",
    ],
    "issue.closed": lambda c: [c.who, f" closed issue #{c.after.get('number', '?')} of ", c.bead()],
    "issue.close_failed": lambda c: [
        c.who,
        f" could not close issue #{c.after.get('number', '?')} of ",
        c.bead(),
    ],
    "issue.comment_failed": lambda c: [
        c.who,
        f" could not comment on issue #{c.after.get('number', '?')} of ",
        c.bead(),
    ],
    "forge.issue_seen": lambda c: [
        f"a new issue #{c.after.get('number', '?')} '{c.after.get('title', '')}' came in on ",
        c.rig(),
    ],
    "forge.webhook": lambda c: [c.who, " took in a webhook delivery", *c.where()],
    "mayor.tool_call": lambda c: (
        [
            c.who,
            f" used {c.after.get('name', 'a tool')}"
            + ("" if c.after.get("ok", True) else ", which failed"),
        ],
        None,
    ),
}


def say(event: E, names: Names | None = None) -> Sentence:
    """The sentence for one event; a kind without one still reads, naming its kind."""
    c = _Ctx(event, names or Names())
    maker = SENTENCES.get(str(event.get("kind")))
    if maker is None:
        subject = (
            c.bead() if event.get("bead_id") else c.convoy() if event.get("convoy_id") else c.rig()
        )
        return Sentence((c.who, f" recorded {event.get('kind')} on ", subject), event.get("reason"))
    made = maker(c)
    parts, why = made if isinstance(made, tuple) else (made, event.get("reason"))
    return Sentence(tuple(parts), str(why) if why else None)
