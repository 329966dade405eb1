"""The titles, polecats and target branches a batch of events refers to by id, read in one
go so a feed of N events costs a handful of queries, not N."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gastown.services.sentences import Names, Sentence, say
from gastown.store import BeadFilter, Tx
from gastown.store.projection import bead_lines


def load(tx: Tx, events: Iterable[Mapping[str, Any]]) -> Names:
    """The names `events` refer to by id (bead and convoy titles, runs' polecats, merge
    requests' targets), in a few queries."""
    beads: set[str] = set()
    convoys: set[str] = set()
    runs: set[str] = set()
    mrs: set[str] = set()
    for e in events:
        after, before = e.get("after") or {}, e.get("before") or {}
        for found, into in (
            (e.get("bead_id"), beads),
            (after.get("depends_on"), beads),
            (before.get("depends_on"), beads),
            (e.get("convoy_id"), convoys),
            (before.get("convoy_id"), convoys),
            (after.get("run") or after.get("run_id"), runs),
            (after.get("mr") if e.get("kind") == "mr.merged" else None, mrs),
        ):
            if isinstance(found, str) and found:
                into.add(found)
    titles = (
        {line.id: line.title for line in bead_lines(tx, BeadFilter(ids=sorted(beads)))}
        if beads
        else {}
    )
    convoy_titles = {c: found.title for c in sorted(convoys) if (found := tx.get_convoy(c))}
    polecats = {r: found.polecat for r in sorted(runs) if (found := tx.get_run(r))}
    targets = {m: found.target for m in sorted(mrs) if (found := tx.get_merge_request(m))}
    return Names(titles, convoy_titles, polecats, targets)


def sentences(tx: Tx, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event with what it says: `words` (linked parts) and `why` (its reason, if the
    sentence does not already tell it)."""
    names = load(tx, events)
    out = []
    for e in events:
        said: Sentence = say(e, names)
        out.append({**e, "words": said.to_json(), "why": said.why})
    return out
