"""Sling: put work in front of the polecats, as a new bead or an existing one."""

from __future__ import annotations

from gastown.errors import Conflict, InvalidValue
from gastown.model import CLOSED, IN_PROGRESS, IN_REVIEW, Bead
from gastown.services import beads
from gastown.services.ledger import Ledger, get_bead

runtime = beads.runtime
model = beads.model


def sling_new(ledger: Ledger, spec: beads.NewBead) -> Bead:
    """Create a bead already marked for dispatch."""
    if spec.rig is None:
        raise InvalidValue("Slinging new work needs a rig.", hint="Pass --rig NAME.")
    spec.runtime = runtime(spec.runtime)
    spec.model = model(spec.model)
    spec.slung = True
    return beads.create(ledger, spec, reason="slung")


def sling_existing(
    ledger: Ledger,
    bead_id: str,
    rt: str | None = None,
    hold: bool | None = None,
    model_name: str | None = None,
) -> Bead:
    """Mark an existing bead for dispatch (optionally with a runtime or a model, or held).
    A runtime or model left out keeps the one it was slung with before, if any."""
    rt, model_name = runtime(rt), model(model_name)
    with ledger.store.transaction() as tx:
        bead = get_bead(tx, ledger.prefix, bead_id, lock=True)
        if bead.status in (CLOSED, IN_PROGRESS, IN_REVIEW):
            raise Conflict(
                f"Bead {bead.id} is {bead.status}; only open (or failed) work can be slung.",
                hint="Reopen it first with `gt bead reopen`." if bead.status == CLOSED else None,
            )
        if bead.rig is None:
            raise Conflict(
                f"Bead {bead.id} has no rig to work on.",
                hint=f"Give it one: gt bead update {bead.id} --rig NAME",
            )
        fields: dict[str, object] = {"slung": True}
        if bead.status == "failed":
            fields["status"] = "open"
        if rt is not None:
            fields["runtime"] = rt
        if model_name is not None:
            fields["model"] = model_name
        if hold is not None:
            fields["held"] = hold
        beads.write(ledger, tx, bead, fields, kind="bead.slung", reason="slung")
        return bead
