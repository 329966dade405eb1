"""What every town route needs: a ledger of its own for the request, who is acting, and a way
to wake the town process after a change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from gastown.errors import GastownError, NotFound, Refused, UsageError
from gastown.services.ledger import Ledger
from gastown.town import Town
from gastown.townrun import wake
from gastown.web.auth import Identity, identity


def caller(request: Request) -> Identity:
    """The identity the gate admitted (every town route depends on it, as a second lock)."""
    found = identity(request.state)
    if found is None:
        raise HTTPException(401, "A valid town token is required (see <town>/run/token).")
    return found


def actor_of(who: Identity) -> str:
    """How the event log names the person: `dashboard` in a browser, `api` with the token."""
    return "dashboard" if who.via == "session" else "api"


def ledger(request: Request, who: Annotated[Identity, Depends(caller)]) -> Iterator[Ledger]:
    """A ledger on a store handle of this request's own (requests never share a connection)."""
    town: Town = request.app.state.town
    store = town.open_store()
    try:
        yield Ledger(store, prefix=town.prefix, actor=actor_of(who))
    finally:
        store.close()


Led = Annotated[Ledger, Depends(ledger)]
Who = Annotated[Identity, Depends(caller)]


def changed(request: Request) -> None:
    """Wake the town process to reconcile now (a write may have made work ready)."""
    town: Town = request.app.state.town
    wake.notify(town.path)


def fresh_town(request: Request) -> Town:
    """The town as `town.toml` says now (the CLI may have changed its settings meanwhile)."""
    from gastown.town import load

    town: Town = request.app.state.town
    return load(town.path)


def status_of(exc: GastownError) -> int:
    """The HTTP status for one of our errors."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UsageError):
        return 400
    return 403 if isinstance(exc, Refused) else 409
