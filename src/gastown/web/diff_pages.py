"""The pages of one merge request and one run, each with its diff, and their JSON twins.

`?view=split` draws the diff side by side, anything else unified; the choice is in the URL so
it survives a reload and a shared link. A change that cannot be shown (a pruned branch, a
clone that is gone) is said in place of the diff; an unknown id is a 404 page saying so.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gastown.errors import GitError, NotFound, UserError
from gastown.services import diffs
from gastown.services import merge_requests as mr_service
from gastown.services.ledger import Ledger
from gastown.web import diff_view
from gastown.web.common import Led, status_of
from gastown.web.pages import page

router = APIRouter(include_in_schema=False)
api = APIRouter()


@router.get("/merges/{mr_id}")
def merge_request_page(request: Request, led: Led, mr_id: str, view: str = "") -> Response:
    town = request.app.state.town.path
    missing: UserError | None = None
    with led.store.reader() as tx:
        try:
            mr = mr_service.resolve(tx, mr_id)
        except UserError as exc:
            missing = exc
        else:
            bead = tx.get_bead(mr.bead_id) if mr.bead_id else None
            data: dict[str, Any] = {
                "mr": mr.to_json(),
                "titles": {bead.id: bead.title} if bead else {},
                "issues": {},
            }
            data.update(_diff(lambda: diffs.of_merge_request(tx, town, mr.id), view))
    if missing is not None:  # the page opens its own reader: not inside this one
        return _missing(request, led, missing, "Merge request not found")
    title = f"Merge request {mr.id}" + (f": {bead.title}" if bead else "")
    return page(request, led, "merge_request.html", data, title=title)


@router.get("/runs/{run_id}")
def run_page(request: Request, led: Led, run_id: str, view: str = "") -> Response:
    town = request.app.state.town.path
    with led.store.reader() as tx:
        run = tx.get_run(run_id)
        if run is not None:
            bead = tx.get_bead(run.bead_id)
            mr = diffs.merge_request_of(tx, run)
            data: dict[str, Any] = {
                "run": run.to_json(),
                "bead_title": bead.title if bead else "",
                "mr_id": mr.id if mr else None,
            }
            data.update(_diff(lambda: diffs.of_run(tx, town, run.id), view))
    if run is None:
        missing = NotFound(f"There is no run '{run_id}'.", hint="The agents page lists runs.")
        return _missing(request, led, missing, "Run not found")
    return page(request, led, "run.html", data, title=f"Run {run.id}")


@api.get("/api/merge-requests/{mr_id}/diff")
def merge_request_diff(request: Request, led: Led, mr_id: str) -> dict[str, Any]:
    """The files a merge request changes, with their counts (as `gt mr diff --json`)."""
    with led.store.reader() as tx:
        return diffs.of_merge_request(tx, request.app.state.town.path, mr_id).to_json()


@api.get("/api/runs/{run_id}/diff")
def run_diff(request: Request, led: Led, run_id: str) -> dict[str, Any]:
    """The files a run's commits change, with their counts (as `gt runs diff --json`)."""
    with led.store.reader() as tx:
        return diffs.of_run(tx, request.app.state.town.path, run_id).to_json()


def _diff(compute: Any, view: str) -> dict[str, Any]:
    """What `diff.html` needs: the drawn files, or the sentence saying why there are none."""
    chosen: diff_view.View = "split" if view == "split" else "unified"
    out: dict[str, Any] = {"view": chosen, "problem": None}
    try:
        change: diffs.Change = compute()
    except GitError as exc:
        return {**out, "problem": exc.message, "hint": exc.hint, "change": None}
    files = change.diff.files if change.diff else []
    return {
        **out,
        "change": change.to_json(),
        "files": diff_view.drawn(change.diff, change.comments, chosen) if change.diff else [],
        "general": diff_view.general(files, change.comments),
    }


def _missing(request: Request, led: Ledger, exc: UserError, title: str) -> Response:
    data = {"message": exc.message, "hint": exc.hint}
    answer: HTMLResponse = page(request, led, "diff_missing.html", data, title=title)
    answer.status_code = status_of(exc)
    return answer
