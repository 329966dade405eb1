"""The dashboard's pages and the form posts they make.

Each page renders a read model from `views` (the same dict its JSON route returns) into a
template. The part of a page that changes as the town works sits in one live region
(`data-live` names the topics it follows, see `live`); `?fragment=live` renders that region
alone, which is what the page fetches when a change arrives. Forms stay outside live regions,
so a refresh never eats what someone is typing.

Every form post calls the same service as the matching JSON route. Posted by htmx, it answers
204 with an `HX-Trigger` that refreshes the page's live regions (or an `HX-Redirect`); posted
without scripts, it redirects back (303). A refused change answers with its one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gastown.errors import GastownError, InvalidValue, NotFound
from gastown.services import beads as bead_service
from gastown.services import convoys as convoy_service
from gastown.services import escalations as escalation_service
from gastown.services import hosts, moves
from gastown.services import settings as settings_service
from gastown.services import sling as sling_service
from gastown.services.ledger import Ledger
from gastown.services.mail import inbox_of
from gastown.services.plan import parse as parse_plan
from gastown.town import Town
from gastown.web import board, chat, svg, views
from gastown.web.auth import CSRF_FIELD, identity, safe_next
from gastown.web.common import Led, actor_of, caller, changed, fresh_town, status_of
from gastown.web.render import render

T = TypeVar("T")

router = APIRouter(include_in_schema=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _csrf(request: Request) -> str:
    who = identity(request.state)
    return who.csrf if who else ""


def _live_url(request: Request) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "fragment"]
    return request.url.path + "?" + urlencode([*query, ("fragment", "live")])


def page(
    request: Request,
    led: Ledger,
    template: str,
    data: dict[str, Any],
    *,
    title: str,
    live: bool = False,
    topics: str = "*",
) -> HTMLResponse:
    """A whole page, or only its live region when asked for `?fragment=live`. A page with a
    live region (`live`) keeps it in its template's `_live` sibling: `board.html`'s in
    `board_live.html`."""
    region = template.removesuffix(".html") + "_live.html" if live else None
    context = {**data, "now": _now(), "csrf": _csrf(request), "csrf_field": CSRF_FIELD}
    if region is not None and request.query_params.get("fragment") == "live":
        return HTMLResponse(render(region, context), headers={"cache-control": "no-store"})
    town: Town = request.app.state.town
    with led.store.reader() as tx:
        context.update(
            town=town.name,
            title=title,
            path=request.url.path,
            nav_rigs=[r.name for r in tx.list_rigs()],
            open_escalations=len(tx.list_escalations(open_only=True)),
            unread_mail=tx.count_unread_mail(inbox_of(actor_of(caller(request)))),
            chat=chat.history(tx),
            live=region,
            topics=topics,
            live_url=_live_url(request),
        )
    return HTMLResponse(render(template, context), headers={"cache-control": "no-store"})


# --- pages ---------------------------------------------------------------------------------


@router.get("/")
def overview(request: Request, led: Led) -> HTMLResponse:
    with led.store.reader() as tx:
        data = views.overview(tx, _now())
    a = data["activity"]
    data["chart"] = svg.activity_chart(a["counts"], a["bucket_minutes"], a["start"])
    data["spend_chart"] = svg.spend_chart(data["spend_days"])
    return page(request, led, "overview.html", data, title="Overview", live=True)


@router.get("/rigs/{rig}")
def rig_board(request: Request, led: Led, rig: str, limit: int = board.LIMIT) -> Response:
    """A rig's board, filtered and searched from the query string (see `board`)."""
    return _board(request, led, rig, limit, title=f"Rig {rig}", topics=f"rig:{rig}")


@router.get("/board")
def town_board(request: Request, led: Led, limit: int = board.LIMIT) -> Response:
    """Every rig's beads on one board; `?rig=` narrows it like the other filters."""
    return _board(request, led, None, limit, title="Board", topics="kind:bead kind:run kind:mr")


def _board(
    request: Request, led: Led, rig: str | None, limit: int, *, title: str, topics: str
) -> Response:
    with led.store.reader() as tx:
        if rig is not None and tx.get_rig(rig) is None:
            raise NotFound(f"There is no rig '{rig}'.", hint="`gt rig list` shows the town's rigs.")
        wanted = board.parse(tx, request.query_params.multi_items(), rig)
        data = board.read(
            tx,
            wanted,
            _now(),
            max(1, min(limit, 1000)),
            settings=fresh_town(request).settings,
            environ=request.app.state.environ,
        )
        data.update(board.options(tx), fixed_rig=rig)
    query = [(k, v) for k, v in request.query_params.multi_items() if k in board.FILTER_KEYS]
    data["more_url"] = "?" + urlencode([*query, ("limit", str(data["limit"] * 5))])
    return page(request, led, "board.html", data, title=title, live=True, topics=topics)


@router.get("/convoys")
def convoy_list(request: Request, led: Led) -> Response:
    with led.store.reader() as tx:
        data = views.convoys(tx)
    return page(
        request,
        led,
        "convoys.html",
        data,
        title="Convoys",
        live=True,
        topics="kind:convoy kind:bead",
    )


@router.get("/convoys/{convoy_id}")
def convoy_page(request: Request, led: Led, convoy_id: str) -> Response:
    data = views.convoy(led, convoy_id)
    return page(
        request,
        led,
        "convoy.html",
        data,
        title=f"Convoy: {data['title']}",
        live=True,
        topics=f"convoy:{data['id']}",
    )


@router.get("/beads/{bead_id}")
def bead_page(request: Request, led: Led, bead_id: str) -> Response:
    town = request.app.state.town
    data = views.bead(led, bead_id, hosts.window(town.settings, request.app.state.environ))
    bead = data["bead"]
    return page(
        request,
        led,
        "bead.html",
        data,
        title=f"{bead['id']}: {bead['title']}",
        live=True,
        topics=f"bead:{bead['id']}",
    )


@router.get("/agents")
def agent_list(request: Request, led: Led) -> Response:
    with led.store.reader() as tx:
        data = views.agents(tx)
    return page(
        request,
        led,
        "agents.html",
        data,
        title="Agents",
        live=True,
        topics="kind:run kind:agent kind:bead",
    )


@router.get("/agents/{name}")
def agent_page(request: Request, led: Led, name: str) -> Response:
    with led.store.reader() as tx:
        data = views.agent(tx, request.app.state.town, name)
    topics = f"agent:{name} kind:run" + (f" bead:{data['bead_id']}" if data["bead_id"] else "")
    return page(request, led, "agent.html", data, title=f"Polecat {name}", live=True, topics=topics)


@router.get("/merges")
def merge_queue(request: Request, led: Led) -> Response:
    with led.store.reader() as tx:
        data = views.merge_queue(tx)
    return page(
        request,
        led,
        "merges.html",
        data,
        title="Merge queue",
        live=True,
        topics="kind:mr kind:refinery",
    )


@router.get("/escalations")
def escalation_list(request: Request, led: Led, all: bool = False) -> Response:
    with led.store.reader() as tx:
        data = views.escalations(tx, all)
    return page(
        request,
        led,
        "escalations.html",
        data,
        title="Escalations",
        live=True,
        topics="kind:escalation",
    )


@router.get("/settings")
def settings_page(request: Request, led: Led, rig: str | None = None) -> Response:
    data = views.settings(led, fresh_town(request), rig or None, request.app.state.environ)
    return page(
        request,
        led,
        "settings.html",
        data,
        title="Settings" + (f" of rig {rig}" if rig else ""),
        live=True,
        topics="kind:config",
    )


@router.get("/new")
def new_work(request: Request, led: Led, rig: str | None = None) -> Response:
    with led.store.reader() as tx:
        rigs = [r.name for r in tx.list_rigs()]
        staged = [c.to_json() for c in tx.list_convoys(status="open") if c.staged]
    data = {"rigs": rigs, "rig": rig, "staged": staged, "rows": range(1, 6)}
    return page(request, led, "new.html", data, title="New work", live=True, topics="kind:convoy")


# --- form posts ----------------------------------------------------------------------------


async def _form(request: Request) -> list[tuple[str, str]]:
    body = await request.body()
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: list[tuple[str, str]], key: str, default: str = "") -> str:
    return next((v for k, v in form if k == key), default)


def _back(request: Request, form: list[tuple[str, str]]) -> str:
    given = _one(form, "next")
    if given:
        return safe_next(given)
    referer = urlsplit(request.headers.get("referer", ""))
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


async def _act(
    request: Request,
    form: list[tuple[str, str]],
    work: Callable[[Ledger], T],
    go_to: Callable[[T], str | None] | None = None,
) -> Response:
    """Run `work` with a ledger acting for the caller, then answer the form post."""
    who = caller(request)
    town: Town = request.app.state.town

    def run() -> T:
        store = town.open_store()
        try:
            return work(Ledger(store, prefix=town.prefix, actor=actor_of(who)))
        finally:
            store.close()

    try:
        result = await run_in_threadpool(run)
    except GastownError as exc:
        return failed(request, exc)
    changed(request)
    return done(request, form, go_to(result) if go_to else None)


def done(request: Request, form: list[tuple[str, str]], target: str | None = None) -> Response:
    if request.headers.get("hx-request"):
        headers = {"HX-Trigger": "gt:acted"}
        if target:
            headers["HX-Redirect"] = target
        return Response(status_code=204, headers=headers)
    return RedirectResponse(safe_next(target) if target else _back(request, form), 303)


def failed(request: Request, exc: GastownError) -> Response:
    """A refused change: its sentence (and hint) as text for htmx, else as a page."""
    text = exc.message + (f" {exc.hint}" if exc.hint else "")
    if request.headers.get("hx-request"):
        return PlainTextResponse(text, status_code=status_of(exc))
    html = render("error.html", {"message": exc.message, "hint": exc.hint, "back": "/"})
    return HTMLResponse(html, status_code=status_of(exc))


BEAD_ACTIONS = ("sling", "hold", "unhold", "close", "reopen", "priority", "move")


@router.post("/beads/{bead_id}/act")
async def bead_action(request: Request, bead_id: str) -> Response:
    """Start (sling), hold, unhold, close, reopen or reprioritise a bead."""
    form = await _form(request)
    action = _one(form, "action")

    def work(led: Ledger) -> Any:
        if action == "sling":
            return sling_service.sling_existing(
                led, bead_id, _one(form, "runtime") or None, None, _one(form, "model") or None
            )
        if action == "move":  # the board's keyboard (and script-free) way to drag a card
            return moves.move(led, bead_id, _one(form, "to"))
        if action in ("hold", "unhold"):
            return bead_service.update(led, bead_id, {"held": action == "hold"})
        if action == "close":
            return bead_service.close(led, bead_id, _one(form, "reason") or None)
        if action == "reopen":
            return bead_service.reopen(led, bead_id)
        if action.startswith("priority"):  # `priority` with a field, or `priority:N`
            level = action.partition(":")[2] or _one(form, "priority")
            return bead_service.update(led, bead_id, {"priority": level})
        raise InvalidValue(f"'{action}' is not something a bead can be told: {BEAD_ACTIONS}.")

    return await _act(request, form, work)


@router.post("/sling")
async def sling(request: Request) -> Response:
    """Create a bead marked for dispatch; then show its rig's board."""
    form = await _form(request)
    rig = _one(form, "rig")
    spec = bead_service.NewBead(
        title=_one(form, "title"),
        body=_one(form, "body"),
        priority=_one(form, "priority", "2"),  # type: ignore[arg-type]  # checked by the service
        rig=rig or None,
        held=_one(form, "hold") == "on",
        runtime=_one(form, "runtime") or None,
        model=_one(form, "model") or None,
    )

    def work(led: Ledger) -> Any:
        spec.priority = bead_service.priority(spec.priority)
        return sling_service.sling_new(led, spec)

    stay = _one(form, "stay") == "1"
    return await _act(request, form, work, lambda bead: None if stay else f"/rigs/{bead.rig}")


@router.post("/convoys")
async def create_convoy(request: Request) -> Response:
    """A convoy from the form's task rows (key, title, body, needs); then its page."""
    form = await _form(request)
    rows: list[dict[str, Any]] = []
    for key, value in form:
        if key == "task_key":
            rows.append({"key": value.strip()})
        elif key.startswith("task_") and rows:
            rows[-1][key.removeprefix("task_")] = value
    tasks = [
        {
            "key": row["key"] or str(i),
            "title": row.get("title", ""),
            "body": row.get("body", ""),
            "needs": [n.strip() for n in row.get("needs", "").split(",") if n.strip()],
        }
        for i, row in enumerate(rows, 1)
        if row.get("title", "").strip()
    ]
    title, rig = _one(form, "title"), _one(form, "rig")
    staged = _one(form, "staged") == "on" or None
    mode = _one(form, "merge_mode") or None
    town = fresh_town(request)
    environ = request.app.state.environ

    def work(led: Ledger) -> Any:
        plan = parse_plan({"tasks": tasks}, origin=f"convoy '{title}'")
        chosen, how = convoy_service.choose_defaults(led, town, rig, environ, staged, mode)
        return convoy_service.create(led, title, rig, plan, chosen, how)

    return await _act(request, form, work, lambda view: f"/convoys/{view.convoy.id}")


@router.post("/convoys/{convoy_id}/{action}")
async def convoy_action(request: Request, convoy_id: str, action: str) -> Response:
    """Start a staged convoy, or close one: it lands, or, forced with beads unfinished, it is
    cancelled."""
    form = await _form(request)

    def work(led: Ledger) -> Any:
        if action == "start":
            return convoy_service.start(led, convoy_id)
        if action == "close":
            return convoy_service.close(led, convoy_id, None, _one(form, "force") == "on")
        raise InvalidValue(f"'{action}' is not something a convoy can be told: start, close.")

    return await _act(request, form, work)


@router.post("/dispatch/{action}")
async def dispatch_action(request: Request, action: str) -> Response:
    """Pause or resume dispatch, town-wide or (with a `rig` field) on one rig, like
    `gt pause` and `gt resume`."""
    from gastown.services import controls

    form = await _form(request)
    rig = _one(form, "rig") or None
    town: Town = request.app.state.town

    def work(led: Ledger) -> Any:
        if action == "pause":
            return controls.pause(led, rig, _one(form, "reason"), town.path)
        if action == "resume":
            settings = fresh_town(request).settings
            return controls.resume(led, settings, request.app.state.environ, rig, town.path)
        raise InvalidValue(f"'{action}' is not something dispatch can be told: pause, resume.")

    return await _act(request, form, work)


@router.post("/agents/{name}/{action}")
async def agent_action(request: Request, name: str, action: str) -> Response:
    """Stop, reset or nudge a polecat through the town process's loop."""
    form = await _form(request)
    loop = getattr(request.app.state, "loop", None)
    if loop is None:
        return failed(request, GastownError("This town process does not supervise agents."))
    try:
        loop.control(name, action, actor_of(caller(request)), _one(form, "text"))
    except GastownError as exc:
        return failed(request, exc)
    return done(request, form)


@router.post("/settings")
async def change_setting(request: Request) -> Response:
    """Set or unset one setting of the town or a rig, validated like `gt config set`."""
    form = await _form(request)
    key, rig = _one(form, "key"), _one(form, "rig") or None
    town = fresh_town(request)

    def work(led: Ledger) -> Any:
        if _one(form, "op") == "unset":
            return settings_service.unset(led, town, key, rig)
        return settings_service.set_value(led, town, key, _one(form, "value"), rig)

    return await _act(request, form, work)


@router.post("/escalations/{escalation_id}/ack")
async def ack_escalation(request: Request, escalation_id: int) -> Response:
    form = await _form(request)
    return await _act(request, form, lambda led: escalation_service.acknowledge(led, escalation_id))


@router.post("/mayor")
async def ask_mayor(request: Request) -> Response:
    """One turn with the mayor, for pages without scripts (they stream it instead)."""
    form = await _form(request)
    town: Town = request.app.state.town
    try:
        text = chat.words(_one(form, "text"))
        await run_in_threadpool(
            chat.take_turn, town, request.app.state.mayor_turn, request.app.state.environ, text
        )
    except GastownError as exc:
        return failed(request, exc)
    return done(request, form)
