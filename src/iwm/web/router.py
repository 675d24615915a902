"""The partner dashboard pages: /dashboard/... (HTML, htmx fragments)."""

import hashlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.deadline import arrived_at, extend_deadline
from iwm.core.deps import SESSION_COOKIE, ResourcesDep, client_ip
from iwm.core.errors import DomainError, ValidationFailed
from iwm.core.middleware import Draining
from iwm.core.principal import Principal, Role
from iwm.core.security import token_hash
from iwm.modules.auth.service import AuthService
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.models import KioskStatus
from iwm.modules.kiosks.schemas import KioskLike, KioskRead
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.models import PrintStatus
from iwm.modules.orders.schemas import OrderFilters
from iwm.modules.orders.service import OrderRow, OrderService
from iwm.modules.rounds.service import RoundService
from iwm.modules.shops.service import ShopService
from iwm.modules.users.service import resolve_principal
from iwm.web.deps import (
    LANG_COOKIE,
    LOGIN_PATH,
    PREFIX,
    CsrfChecked,
    PageNotFound,
    WebDb,
    WebPartner,
    WebRoute,
    attach_csrf_cookie,
    error_key,
    language,
    render,
    renew_csrf,
    safe_next,
    set_session_cookie,
)
from iwm.web.i18n import MESSAGES, translate

router = APIRouter(prefix=PREFIX, route_class=WebRoute, include_in_schema=False)

HISTORY_PAGE_SIZE = 20
KIOSK_LIST_LIMIT = 500
CARD_ERRORS = 3
DETAIL_ERRORS = 10
LANG_COOKIE_SECONDS = 365 * 24 * 3600
MarkView = Annotated[str, Form(pattern="^(live|row|photo)$")]


def _orders(db: WebDb, resources: ResourcesDep) -> OrderService:
    return OrderService(db, resources.settings, resources.storage)


# -- signing in and out --------------------------------------------------------------


@router.get("/login")
async def login_page(
    request: Request,
    resources: ResourcesDep,
    next_: Annotated[str | None, Query(alias="next", max_length=500)] = None,
    expired: bool = False,
    signed_out: bool = False,
) -> Response:
    """The sign-in form."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and not expired:
        principal = await resolve_principal(resources, token_hash(token), client_ip(request))
        if principal is not None and principal.has_any(Role.PARTNER):
            return RedirectResponse(safe_next(next_), status_code=303)
    notice = "session_expired" if expired else "signed_out" if signed_out else None
    return render(request, "login.html", {"next": safe_next(next_), "notice": notice})


@router.post("/login", dependencies=[CsrfChecked])
async def login(
    request: Request,
    resources: ResourcesDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next_: Annotated[str, Form(alias="next", max_length=500)] = PREFIX,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Check the credentials (and the two-factor code, when on); on success the session
    token goes into an HttpOnly cookie."""
    context: dict[str, Any] = {"next": safe_next(next_), "email": email}
    try:
        result = await AuthService.login(
            resources,
            email,
            password,
            client_ip(request),
            code=code.strip() or None,
            user_agent=request.headers.get("user-agent"),
        )
    except DomainError as exc:
        context["error"] = error_key(exc) or "bad_credentials"
        response = render(request, "login.html", context, exc.status_code)
        response.headers.update(exc.headers)
        return response
    principal = await resolve_principal(resources, token_hash(result.token), client_ip(request))
    if principal is None or not principal.has_any(Role.PARTNER):
        # Only partners get a dashboard session; the one just made is dropped at once.
        await resources.sessions.delete(token_hash(result.token))
        context["error"] = "not_partner"
        return render(request, "login.html", context, 403)
    redirect = RedirectResponse(safe_next(next_), status_code=303)
    # The session slides from here on (see web.deps): the first page moves its end.
    set_session_cookie(request, redirect, result.token, result.expires_at)
    renew_csrf(request)
    attach_csrf_cookie(request, redirect)
    return redirect


@router.post("/logout", dependencies=[CsrfChecked])
async def logout(request: Request, resources: ResourcesDep) -> Response:
    """End the session in the store and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        principal = await resolve_principal(resources, token_hash(token), client_ip(request))
        if principal is not None:
            await AuthService.logout(resources, principal)
    response = RedirectResponse(f"{LOGIN_PATH}?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/language", dependencies=[CsrfChecked])
async def set_interface_language(
    lang: Annotated[str, Form(max_length=8)],
    next_: Annotated[str, Form(alias="next", max_length=500)] = PREFIX,
) -> Response:
    """Switch the interface language (kept in a cookie)."""
    response = RedirectResponse(safe_next(next_), status_code=303)
    if lang in MESSAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_SECONDS, samesite="lax", path="/"
        )
    return response


# -- new orders: the print queue -------------------------------------------------------


async def _shop_zones(db: WebDb, partner: Principal) -> dict[uuid.UUID, str]:
    """The partner's shops' time zones: times are shown in the shop's own zone."""
    return (await _order_labels(db, partner))["zones"]


async def _order_labels(db: WebDb, partner: Principal) -> dict[str, dict[uuid.UUID, str]]:
    """What an order card needs of its shop: its time zone, and its name when the partner
    has several shops (order numbers count per shop, so "#42" alone could be either)."""
    shops, _ = await ShopService(db).list(1, 500, partner.user_id)
    return {
        "zones": {s.id: s.timezone for s in shops},
        "shop_labels": {s.id: s.name for s in shops} if len(shops) > 1 else {},
    }


def _queue(rows: list[OrderRow]) -> list[OrderRow]:
    """A print queue: unprinted first, oldest first; then the just printed, latest first."""
    waiting = sorted((r for r in rows if r.printed_at is None), key=lambda r: r.created_at)
    done = sorted(
        (r for r in rows if r.printed_at is not None),
        key=lambda r: r.printed_at or r.created_at,
        reverse=True,
    )
    return waiting + done


async def _live_context(
    request: Request, partner: Principal, orders: OrderService, db: WebDb
) -> dict[str, Any]:
    rows = _queue(await orders.new_orders(partner))
    cards = await orders.cards(rows)
    total, printed = await orders.daily_counters(partner, None)
    older = await orders.count_older_unprinted(partner)
    to_print = sum(1 for r in rows if r.printed_at is None)
    lang = language(request)
    # What the partner can see change: a poll with the same fingerprint gets 204. Ages
    # ("5 min ago") move once a minute for the whole screen, not whenever one card's does:
    # with a card's own age in it, a busy screen's fingerprint changed every few seconds
    # and every poll carried the whole fragment.
    state = [
        lang,
        total,
        printed,
        older,
        int(clock.now().timestamp() // 60),
        [(str(o.id), o.status.value) for o in rows],
    ]
    fingerprint = hashlib.sha256(json.dumps(state).encode()).hexdigest()[:20]
    return {
        "orders": cards,
        "all": total,
        "printed": printed,
        "to_print": to_print,
        "older": older,
        "fingerprint": fingerprint,
        **await _order_labels(db, partner),
        "live_mode": orders_live_mode(request),
    }


def orders_live_mode(request: Request) -> str:
    mode: str = request.app.state.resources.settings.dashboard_live
    return mode


@router.get("")
async def new_orders_page(
    request: Request, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """The "new orders" screen."""
    context = await _live_context(request, partner, _orders(db, resources), db)
    return render(request, "orders_new.html", {"nav": "new", **context})


@router.get("/orders/live")
async def new_orders_live(
    request: Request,
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
    v: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The refreshed part of the screen; 204 when nothing visible changed."""
    context = await _live_context(request, partner, _orders(db, resources), db)
    if v and v == context["fingerprint"]:
        return Response(status_code=204)
    return render(request, "_live.html", context)


STREAM_SECONDS = 300.0
# Also the keep-alive: a proxy drops a stream silent for long.
SESSION_CHECK_SECONDS = 5.0


@router.get("/orders/stream")
async def new_orders_stream(
    request: Request, partner: WebPartner, resources: ResourcesDep
) -> Response:
    """Server-sent events: `change` whenever an order or a kiosk of the partner's shops
    changes. The browser then fetches /orders/live. Ends after a few minutes (the
    browser reconnects at once, and the session is checked again)."""
    async with resources.read_sessionmaker() as db:  # no transaction held by the stream
        shop_ids = list((await _shop_zones(db, partner)).keys())
    # A stream is bounded by its own length, not by the deadline of ordinary requests.
    extend_deadline(request, arrived_at(request) + STREAM_SECONDS + SESSION_CHECK_SECONDS + 5)

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async with resources.changes.subscribe(shop_ids) as changes:
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                if await changes.wait(SESSION_CHECK_SECONDS):
                    yield "event: change\ndata: {}\n\n"
                else:
                    yield ": keep-alive\n\n"
                # A stopping server (SIGTERM) ends its streams: the browsers reconnect to
                # another worker or server at once instead of holding this one open.
                if Draining.now or await request.is_disconnected():
                    break
                # Signed out elsewhere (or suspended): the screen goes to the sign-in page.
                if await resources.sessions.get(partner.token_hash) is None:
                    yield "event: signed-out\ndata: {}\n\n"
                    break

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/session")
async def session_alive(partner: WebPartner) -> Response:
    """204 while signed in (the live view tells "offline" from "signed out" with it)."""
    return Response(status_code=204)


@router.post("/orders/{order_id}/mark", dependencies=[CsrfChecked])
async def mark_order(
    request: Request,
    order_id: uuid.UUID,
    status: Annotated[PrintStatus, Form()],
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
    view: MarkView = "live",
) -> HTMLResponse:
    """Mark an order printed or not printed; answers the part of the page to refresh."""
    orders = _orders(db, resources)
    row = await orders.mark(partner, order_id, status)
    if view == "live":
        return render(request, "_live.html", await _live_context(request, partner, orders, db))
    order = (await orders.cards([row]))[0]
    template = "_history_row.html" if view == "row" else "_photo_status.html"
    labels = await _order_labels(db, partner)
    return render(request, template, {"o": order, "view": view, **labels})


MAX_BULK = 200


@router.post("/orders/mark", dependencies=[CsrfChecked])
async def mark_orders(
    order_ids: Annotated[list[uuid.UUID], Form(alias="id", max_length=MAX_BULK)],
    status: Annotated[PrintStatus, Form()],
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
) -> Response:
    """Mark several orders at once (after printing them in one job, or to undo that);
    all or none. 204: the page refreshes what it shows."""
    orders = _orders(db, resources)
    for order_id in dict.fromkeys(order_ids):
        await orders.mark(partner, order_id, status)
    return Response(status_code=204)


@router.get("/orders/older")
async def older_unprinted_page(
    request: Request,
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
    page_text: Annotated[str, Query(alias="page", max_length=12)] = "1",
) -> HTMLResponse:
    """Unprinted orders that left the "new orders" window (older than 3 h), oldest first."""
    orders = _orders(db, resources)
    page = max(1, int(page_text)) if page_text.isdigit() else 1
    filters = orders.older_unprinted_filters()
    rows, total = await orders.history(partner, filters, page, HISTORY_PAGE_SIZE, oldest_first=True)
    pages = max(1, math.ceil(total / HISTORY_PAGE_SIZE))
    return render(
        request,
        "older.html",
        {
            "nav": "new",
            "orders": await orders.cards(rows),
            **await _order_labels(db, partner),
            "page": page,
            "pages": pages,
            "total": total,
            "query": {},
            "hours": resources.settings.new_orders_unprinted_hours,
            "base_path": "/dashboard/orders/older",
        },
    )


@router.get("/orders/{order_id}")
async def order_photo(
    request: Request, order_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """One order with its full-size photo, ready to print."""
    orders = _orders(db, resources)
    order = (await orders.cards([await orders.get_owned(partner, order_id)]))[0]
    labels = await _order_labels(db, partner)
    return render(request, "order_photo.html", {"nav": "photo", "o": order, **labels})


# -- history -------------------------------------------------------------------------


def _parse_filters(
    raw: dict[str, str], kiosk_ids: set[uuid.UUID]
) -> tuple[OrderFilters, list[str]]:
    """Filters from the query string; a bad value is reported and left out."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    if raw["status"] in {s.value for s in PrintStatus}:
        values["status"] = PrintStatus(raw["status"])
    elif raw["status"]:
        problems.append("status")
    for key, field in (("dateFrom", "date_from"), ("dateTo", "date_to")):
        if raw[key]:
            try:
                values[field] = date.fromisoformat(raw[key])
            except ValueError:
                problems.append(key)
    if raw["kioskId"]:
        try:
            kiosk_id = uuid.UUID(raw["kioskId"])
        except ValueError:
            problems.append("kioskId")
        else:
            # Another partner's kiosk id simply matches none of this partner's orders.
            values["kiosk_id"] = kiosk_id
            if kiosk_id not in kiosk_ids:
                problems.append("kioskId")
    for key, field in (("customerName", "customer_name"), ("customerEmail", "customer_email")):
        if raw[key].strip():
            values[field] = raw[key].strip()
    if raw["q"].strip():
        values["q"] = raw["q"].strip()
    return OrderFilters(**values), problems


@router.get("/orders")
async def history_page(
    request: Request,
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
    q: Annotated[str, Query(max_length=2000)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    date_from: Annotated[str, Query(alias="dateFrom", max_length=32)] = "",
    date_to: Annotated[str, Query(alias="dateTo", max_length=32)] = "",
    kiosk_id: Annotated[str, Query(alias="kioskId", max_length=64)] = "",
    customer_name: Annotated[str, Query(alias="customerName", max_length=2000)] = "",
    customer_email: Annotated[str, Query(alias="customerEmail", max_length=2000)] = "",
    page_text: Annotated[str, Query(alias="page", max_length=12)] = "1",
) -> HTMLResponse:
    """Orders of the last 30 days, searched, filtered and paged."""
    # A hand-edited address still gets a page: overlong text is cut, a page number out
    # of range is brought back to the nearest real page.
    q, customer_name, customer_email = q[:200], customer_name[:200], customer_email[:320]
    page = int(page_text) if page_text.isdigit() else 1
    page = max(1, page)
    raw = {
        "q": q,
        "status": status,
        "dateFrom": date_from,
        "dateTo": date_to,
        "kioskId": kiosk_id,
        "customerName": customer_name,
        "customerEmail": customer_email,
    }
    kiosks, _ = await KioskService(db, resources.settings).list_owned(partner, 1, KIOSK_LIST_LIMIT)
    filters, problems = _parse_filters(raw, {k.id for k in kiosks})
    orders = _orders(db, resources)
    rows, total = await orders.history(partner, filters, page, HISTORY_PAGE_SIZE)
    pages = max(1, math.ceil(total / HISTORY_PAGE_SIZE))
    if page > pages:
        page = pages
        rows, total = await orders.history(partner, filters, page, HISTORY_PAGE_SIZE)
    query = {k: v for k, v in raw.items() if v}
    more = any(raw[k] for k in raw if k != "q")
    return render(
        request,
        "history.html",
        {
            "nav": "history",
            "orders": await orders.cards(rows),
            **await _order_labels(db, partner),
            "kiosks": kiosks,
            "filters": raw,
            "more_open": more,
            "problems": problems,
            "page": page,
            "pages": pages,
            "total": total,
            "query": query,
            "base_path": "/dashboard/orders",
        },
    )


# -- kiosks --------------------------------------------------------------------------

# The owner switches a kiosk on or off; "error" is the kiosk's own report, cleared once
# the fault is fixed (Clear error), never chosen from the list.
OWNER_STATUSES = [KioskStatus.ACTIVE, KioskStatus.INACTIVE]


async def _card(
    db: WebDb,
    partner: Principal,
    kiosks: KioskService,
    kiosk: KioskLike,
    settings: Settings,
    errors: int = CARD_ERRORS,
) -> dict[str, Any]:
    window = settings.online_window_seconds
    codes = CodeService(db, settings)
    return {
        "k": KioskRead.build(kiosk, window),
        "errors": await kiosks.recent_errors(kiosk.id, errors),
        "money": await RoundService(db, settings).today(kiosk),
        "codes": await codes.recent(partner, kiosk.id),
        "next_code_type": (await codes.next_type(partner, kiosk.id)).value,
    }


def _card_response(
    request: Request, card: dict[str, Any], supported: list[str], zone: str, **extra: Any
) -> HTMLResponse:
    return render(
        request,
        "_kiosk_card.html",
        {**card, "statuses": OWNER_STATUSES, "supported": supported, "zone": zone, **extra},
    )


async def _grid_context(partner: Principal, db: WebDb, resources: ResourcesDep) -> dict[str, Any]:
    kiosks = KioskService(db, resources.settings)
    rows, _ = await kiosks.list_owned(partner, 1, KIOSK_LIST_LIMIT)
    return {
        "cards": [await _card(db, partner, kiosks, k, resources.settings) for k in rows],
        "statuses": OWNER_STATUSES,
        "supported": resources.settings.supported_languages,
        "zones": await _shop_zones(db, partner),
    }


@router.get("/kiosks")
async def kiosks_page(
    request: Request, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """The partner's kiosks with their state and controls."""
    context = await _grid_context(partner, db, resources)
    return render(request, "kiosks.html", {"nav": "kiosks", **context})


@router.get("/kiosks/grid")
async def kiosks_grid(
    request: Request, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """The kiosk cards, refreshed by the page itself."""
    return render(request, "_kiosk_grid.html", await _grid_context(partner, db, resources))


@router.get("/kiosks/trouble")
async def kiosks_trouble(
    request: Request, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """The strip on every page naming kiosks in error or offline (refreshes itself)."""
    trouble = await KioskService(db, resources.settings).trouble(partner)
    zones = await _shop_zones(db, partner)
    return render(request, "_trouble.html", {"trouble": trouble, "zones": zones})


async def _zone_of(db: WebDb, partner: Principal, shop_id: uuid.UUID) -> str:
    return (await _shop_zones(db, partner)).get(shop_id, "UTC")


@router.get("/kiosks/{kiosk_id}")
async def kiosk_page(
    request: Request, kiosk_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """One kiosk, with more of its error history."""
    kiosks = KioskService(db, resources.settings)
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    card = await _card(db, partner, kiosks, kiosk, resources.settings, DETAIL_ERRORS)
    return render(
        request,
        "kiosk_detail.html",
        {
            "nav": "kiosks",
            **card,
            "statuses": OWNER_STATUSES,
            "supported": resources.settings.supported_languages,
            "zone": await _zone_of(db, partner, kiosk.shop_id),
        },
    )


async def _card_after(
    request: Request,
    partner: Principal,
    db: WebDb,
    resources: ResourcesDep,
    kiosk: KioskLike,
    **extra: Any,
) -> HTMLResponse:
    kiosks = KioskService(db, resources.settings)
    card = await _card(db, partner, kiosks, kiosk, resources.settings)
    zone = await _zone_of(db, partner, kiosk.shop_id)
    return _card_response(request, card, resources.settings.supported_languages, zone, **extra)


@router.post("/kiosks/{kiosk_id}/status", dependencies=[CsrfChecked])
async def kiosk_status(
    request: Request,
    kiosk_id: uuid.UUID,
    status: Annotated[KioskStatus, Form()],
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
) -> HTMLResponse:
    """Switch the kiosk on (active) or off (inactive)."""
    if status not in OWNER_STATUSES:
        raise ValidationFailed("status", {"status": ["active or inactive"]})
    kiosk = await KioskService(db, resources.settings).set_status(partner, kiosk_id, status)
    return await _card_after(request, partner, db, resources, kiosk, notice="saved")


@router.post("/kiosks/{kiosk_id}/language", dependencies=[CsrfChecked])
async def kiosk_language(
    request: Request,
    kiosk_id: uuid.UUID,
    language: Annotated[str, Form(max_length=8)],
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
) -> HTMLResponse:
    """Set the kiosk's interface language."""
    kiosk = await KioskService(db, resources.settings).set_language(partner, kiosk_id, language)
    return await _card_after(request, partner, db, resources, kiosk, notice="saved")


@router.post("/kiosks/{kiosk_id}/code", dependencies=[CsrfChecked])
async def kiosk_code(
    request: Request, kiosk_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """Issue a free-round code (asked for and confirmed on the card) and show it large."""
    code = await CodeService(db, resources.settings).issue(partner, kiosk_id)
    kiosk = await KioskService(db, resources.settings).get_owned(partner, kiosk_id)
    return await _card_after(request, partner, db, resources, kiosk, code=code)


@router.post("/kiosks/{kiosk_id}/errors/clear", dependencies=[CsrfChecked])
async def kiosk_clear_error(
    request: Request, kiosk_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """Clear the kiosk's error: back to active."""
    kiosk = await KioskService(db, resources.settings).clear_error(partner, kiosk_id)
    return await _card_after(request, partner, db, resources, kiosk, notice="saved")


@router.get("/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    """Any other dashboard address: a readable 404 page."""
    if not rest:
        return RedirectResponse(PREFIX, status_code=307)
    raise PageNotFound(translate("en", "page_not_found"))
