"""The partner dashboard pages: /dashboard/... (HTML, htmx fragments)."""

import hashlib
import json
import math
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from iwm.core.deps import SESSION_COOKIE, ResourcesDep, client_ip
from iwm.core.errors import DomainError
from iwm.core.principal import Principal, Role
from iwm.core.security import token_hash
from iwm.modules.auth.service import AuthService
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.models import KioskStatus
from iwm.modules.kiosks.schemas import KioskLike, KioskRead
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.models import PrintStatus
from iwm.modules.orders.schemas import OrderFilters
from iwm.modules.orders.service import OrderService
from iwm.modules.rounds.service import RoundService
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
    render,
    renew_csrf,
    safe_next,
    secure_cookies,
)
from iwm.web.i18n import MESSAGES, age, translate

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
) -> Response:
    """Check the credentials; on success the session token goes into an HttpOnly cookie."""
    context: dict[str, Any] = {"next": safe_next(next_), "email": email}
    try:
        result = await AuthService.login(resources, email, password, client_ip(request))
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
    redirect.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=resources.settings.session_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )
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


# -- new orders ----------------------------------------------------------------------


async def _live_context(
    request: Request, partner: Principal, orders: OrderService
) -> dict[str, Any]:
    views = await orders.cards(await orders.new_orders(partner))
    total, printed = await orders.daily_counters(partner, None)
    lang = request.cookies.get(LANG_COOKIE, "")
    # What the partner can see change: a poll with the same fingerprint gets 204.
    state = [
        lang,
        total,
        printed,
        [(str(o.id), o.status.value, age("en", o.created_at)) for o in views],
    ]
    fingerprint = hashlib.sha256(json.dumps(state).encode()).hexdigest()[:20]
    return {"orders": views, "all": total, "printed": printed, "fingerprint": fingerprint}


@router.get("")
async def new_orders_page(
    request: Request, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """The "new orders" screen."""
    context = await _live_context(request, partner, _orders(db, resources))
    return render(request, "orders_new.html", {"nav": "new", **context})


@router.get("/orders/live")
async def new_orders_live(
    request: Request,
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
    v: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The polled part of the screen; 204 when nothing visible changed."""
    context = await _live_context(request, partner, _orders(db, resources))
    if v and v == context["fingerprint"]:
        return Response(status_code=204)
    return render(request, "_live.html", context)


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
        return render(request, "_live.html", await _live_context(request, partner, orders))
    order = (await orders.cards([row]))[0]
    template = "_history_row.html" if view == "row" else "_photo_status.html"
    return render(request, template, {"o": order})


@router.get("/orders/{order_id}")
async def order_photo(
    request: Request, order_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """One order with its full-size photo, ready to print."""
    orders = _orders(db, resources)
    order = (await orders.cards([await orders.get_owned(partner, order_id)]))[0]
    return render(request, "order_photo.html", {"nav": "photo", "o": order})


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
    if raw["customerName"].strip():
        values["customer_name"] = raw["customerName"].strip()
    if raw["customerEmail"].strip():
        values["customer_email"] = raw["customerEmail"].strip()
    return OrderFilters(**values), problems


@router.get("/orders")
async def history_page(
    request: Request,
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
    status: Annotated[str, Query(max_length=20)] = "",
    date_from: Annotated[str, Query(alias="dateFrom", max_length=32)] = "",
    date_to: Annotated[str, Query(alias="dateTo", max_length=32)] = "",
    kiosk_id: Annotated[str, Query(alias="kioskId", max_length=64)] = "",
    customer_name: Annotated[str, Query(alias="customerName", max_length=2000)] = "",
    customer_email: Annotated[str, Query(alias="customerEmail", max_length=2000)] = "",
    page_text: Annotated[str, Query(alias="page", max_length=12)] = "1",
) -> HTMLResponse:
    """Orders of the last 30 days, filtered and paged."""
    # A hand-edited address still gets a page: overlong text is cut, a page number out
    # of range is brought back to the nearest real page.
    customer_name, customer_email = customer_name[:200], customer_email[:320]
    page = int(page_text) if page_text.isdigit() else 1
    page = max(1, page)
    raw = {
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
    return render(
        request,
        "history.html",
        {
            "nav": "history",
            "orders": await orders.cards(rows),
            "kiosks": kiosks,
            "filters": raw,
            "problems": problems,
            "page": page,
            "pages": pages,
            "total": total,
            "query": query,
        },
    )


# -- kiosks --------------------------------------------------------------------------


async def _card(
    kiosks: KioskService, kiosk: KioskLike, window: int, errors: int = CARD_ERRORS
) -> dict[str, Any]:
    return {
        "k": KioskRead.build(kiosk, window),
        "errors": await kiosks.recent_errors(kiosk.id, errors),
        "money": await RoundService(kiosks.session, kiosks.settings).today(kiosk),
    }


def _card_response(
    request: Request, card: dict[str, Any], supported: list[str], **extra: Any
) -> HTMLResponse:
    return render(
        request,
        "_kiosk_card.html",
        {**card, "statuses": list(KioskStatus), "supported": supported, **extra},
    )


@router.get("/kiosks")
async def kiosks_page(
    request: Request, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """The partner's kiosks with their state and controls."""
    kiosks = KioskService(db, resources.settings)
    rows, _ = await kiosks.list_owned(partner, 1, KIOSK_LIST_LIMIT)
    window = resources.settings.online_window_seconds
    cards = [await _card(kiosks, k, window) for k in rows]
    return render(
        request,
        "kiosks.html",
        {
            "nav": "kiosks",
            "cards": cards,
            "statuses": list(KioskStatus),
            "supported": resources.settings.supported_languages,
        },
    )


@router.get("/kiosks/{kiosk_id}")
async def kiosk_page(
    request: Request, kiosk_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """One kiosk, with more of its error history."""
    kiosks = KioskService(db, resources.settings)
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    card = await _card(kiosks, kiosk, resources.settings.online_window_seconds, DETAIL_ERRORS)
    return render(
        request,
        "kiosk_detail.html",
        {
            "nav": "kiosks",
            **card,
            "statuses": list(KioskStatus),
            "supported": resources.settings.supported_languages,
        },
    )


@router.post("/kiosks/{kiosk_id}/status", dependencies=[CsrfChecked])
async def kiosk_status(
    request: Request,
    kiosk_id: uuid.UUID,
    status: Annotated[KioskStatus, Form()],
    partner: WebPartner,
    db: WebDb,
    resources: ResourcesDep,
) -> HTMLResponse:
    """Switch the kiosk active, inactive or error."""
    kiosks = KioskService(db, resources.settings)
    kiosk = await kiosks.set_status(partner, kiosk_id, status)
    card = await _card(kiosks, kiosk, resources.settings.online_window_seconds)
    return _card_response(request, card, resources.settings.supported_languages, notice="saved")


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
    kiosks = KioskService(db, resources.settings)
    kiosk = await kiosks.set_language(partner, kiosk_id, language)
    card = await _card(kiosks, kiosk, resources.settings.online_window_seconds)
    return _card_response(request, card, resources.settings.supported_languages, notice="saved")


@router.post("/kiosks/{kiosk_id}/code", dependencies=[CsrfChecked])
async def kiosk_code(
    request: Request, kiosk_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """Issue a free-round code and show it large."""
    code = await CodeService(db, resources.settings).issue(partner, kiosk_id)
    kiosks = KioskService(db, resources.settings)
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    card = await _card(kiosks, kiosk, resources.settings.online_window_seconds)
    return _card_response(request, card, resources.settings.supported_languages, code=code)


@router.post("/kiosks/{kiosk_id}/errors/clear", dependencies=[CsrfChecked])
async def kiosk_clear_error(
    request: Request, kiosk_id: uuid.UUID, partner: WebPartner, db: WebDb, resources: ResourcesDep
) -> HTMLResponse:
    """Clear the kiosk's error: back to active."""
    kiosks = KioskService(db, resources.settings)
    kiosk = await kiosks.clear_error(partner, kiosk_id)
    card = await _card(kiosks, kiosk, resources.settings.online_window_seconds)
    return _card_response(request, card, resources.settings.supported_languages, notice="saved")


@router.get("/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    """Any other dashboard address: a readable 404 page."""
    if not rest:
        return RedirectResponse(PREFIX, status_code=307)
    raise PageNotFound(translate("en", "page_not_found"))
