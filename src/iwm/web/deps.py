"""What every dashboard page needs: the signed-in partner, CSRF, the database session,
rendering, and one place that turns failures into readable pages or htmx fragments."""

import functools
import importlib.resources
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.deps import SESSION_COOKIE, ResourcesDep, client_ip
from iwm.core.errors import DomainError, NotFound
from iwm.core.principal import Principal, Role
from iwm.core.security import token_hash
from iwm.modules.users.service import resolve_principal
from iwm.web.i18n import (
    ERROR_MESSAGES,
    KIOSK_LANGUAGE_NAMES,
    LANGUAGE_NAMES,
    RTL_LANGUAGES,
    age,
    js_messages,
    pick_language,
    translate,
)

log = structlog.get_logger()

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
PREFIX = "/dashboard"
LOGIN_PATH = f"{PREFIX}/login"
CSRF_COOKIE = "iwm_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LANG_COOKIE = "iwm_lang"
MIN_CSRF_LENGTH = 32

templates = Jinja2Templates(directory=WEB_DIR / "templates")


class LoginRequired(DomainError):
    status_code, code, message = 401, "UNAUTHORIZED", "Please sign in"


class NotAPartner(DomainError):
    status_code, code, message = 403, "FORBIDDEN", "The dashboard is for partner accounts"


class CsrfFailed(DomainError):
    status_code, code, message = 403, "CSRF_FAILED", "Missing or wrong CSRF token"


class PageNotFound(NotFound):
    code, message = "NOT_FOUND", "Page not found"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def language(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def secure_cookies(request: Request) -> bool:
    """Whether cookies get `Secure`: always in production (served behind TLS), else when
    this request came over https (as the trusted proxy reports it)."""
    settings = request.app.state.resources.settings
    return bool(request.url.scheme == "https" or settings.is_production)


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX


# -- CSRF: double submit. A random token in a readable cookie, echoed by every
# state-changing request in the X-CSRF-Token header (htmx) or a form field.


def csrf_token(request: Request) -> str:
    token: str | None = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE)
        if not token or len(token) < MIN_CSRF_LENGTH:
            token = secrets.token_urlsafe(32)
            request.state.csrf_new = True
        request.state.csrf_token = token
    return token


def renew_csrf(request: Request) -> str:
    """A fresh token, e.g. at sign in, so that a token planted before it is worthless."""
    request.state.csrf_token = secrets.token_urlsafe(32)
    request.state.csrf_new = True
    return str(request.state.csrf_token)


def attach_csrf_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf_token,
            httponly=False,
            samesite="strict",
            secure=secure_cookies(request),
            path="/",
        )


async def verify_csrf(request: Request) -> None:
    """Raises CSRF_FAILED (403) unless the request echoes the cookie's token."""
    expected = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise CsrfFailed()


CsrfChecked = Depends(verify_csrf)


# -- the signed-in partner, from the same session store as the API


async def web_partner(request: Request, resources: ResourcesDep) -> Principal:
    """Raises LoginRequired without a live session, NotAPartner for other roles."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    principal = await resolve_principal(resources, token_hash(token), client_ip(request))
    if principal is None:
        raise LoginRequired()
    request.state.principal = principal
    if not principal.has_any(Role.PARTNER):
        raise NotAPartner()
    await _slide(request, resources, principal, token)
    return principal


# A session is moved on at most this often (not a write on every request).
RENEW_EVERY = timedelta(minutes=5)


async def _slide(request: Request, resources: Any, principal: Principal, token: str) -> None:
    """Renews the dashboard session by use: its end moves to now + the idle time, never
    past the absolute limit counted from sign-in; the cookie follows (see WebRoute)."""
    settings = resources.settings
    expires, created = principal.session_expires_at, principal.session_created_at
    if expires is None:
        return
    now = clock.now()
    idle = timedelta(seconds=settings.dashboard_session_idle_seconds)
    if expires - now > idle - RENEW_EVERY:
        return
    limit = (created or now) + timedelta(seconds=settings.dashboard_session_max_seconds)
    until = min(now + idle, limit)
    if until > expires and await resources.sessions.extend(principal.token_hash, until):
        request.state.session_renewed = (token, until)


def set_session_cookie(request: Request, response: Response, token: str, until: datetime) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(1, int((until - clock.now()).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )


WebPartner = Annotated[Principal, Depends(web_partner)]


async def web_db(request: Request, resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """One transaction per page request. Committed only when the page succeeded: a
    failure rendered as a page (see WebRoute) is rolled back like a raised one."""
    async with resources.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if getattr(request.state, "failed", False):
            await session.rollback()
        else:
            await session.commit()


WebDb = Annotated[AsyncSession, Depends(web_db, scope="function")]


# -- rendering


def iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(when: datetime) -> str:
    """Shown until the browser rewrites it in the local time (see dashboard.js)."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@functools.cache
def _regions() -> dict[str, str]:
    """Time zone -> country code, from the tz database's zone.tab (tzdata)."""
    found: dict[str, str] = {}
    try:
        text = importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    except (OSError, ModuleNotFoundError):
        return found
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:  # noqa: PLR2004 - country, coordinates, zone
                found[parts[2]] = parts[0]
    return found


def locale_for(lang: str, zone: str | None) -> str:
    """The interface language with the shop's country ("en-IL"): dates and times follow
    the language's and the place's conventions (26/11/2026, 13:51 in an Israeli shop)."""
    region = _regions().get(zone or "")
    return f"{lang}-{region}" if region else lang


def time_tag(lang: str, when: datetime | None, zone: str | None = None) -> Markup:
    """A <time> in the shop's zone; the text is rewritten by the browser (Intl)."""
    if when is None:
        return Markup("—")
    tz = zone or "UTC"
    try:
        local = when.astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        tz, local = "UTC", when.astimezone(UTC)
    return Markup(
        '<time datetime="{iso}" data-local data-tz="{tz}" data-locale="{loc}">{text}</time>'
    ).format(
        iso=iso_utc(when),
        tz=tz,
        loc=locale_for(lang, tz),
        text=local.strftime("%Y-%m-%d %H:%M"),
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    lang = language(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "lang": lang,
        "dir": "rtl" if lang in RTL_LANGUAGES else "ltr",
        "t": partial(translate, lang),
        "age": partial(age, lang),
        "csrf_token": csrf_token(request),
        "languages": LANGUAGE_NAMES,
        "kiosk_language_names": KIOSK_LANGUAGE_NAMES,
        "iso": iso_utc,
        "utc": utc_text,
        "when": partial(time_tag, lang),
        "now": clock.now(),
        "js_text": js_messages(lang),
        "live_mode": request.app.state.resources.settings.dashboard_live,
        "principal": principal,
        "current_path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    attach_csrf_cookie(request, response)
    return response


def error_key(exc: DomainError) -> str | None:
    return ERROR_MESSAGES.get(exc.code)


def _return_to(request: Request) -> str:
    """The page to come back to after signing in: for htmx the page, not the fragment."""
    if is_htmx(request):
        current = urlsplit(request.headers.get("hx-current-url", ""))
        return current.path + (f"?{current.query}" if current.query else "")
    if request.method != "GET":
        return PREFIX
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def render_error(request: Request, exc: DomainError) -> Response:
    """A readable message: a full page, or for htmx a fragment swapped into #flash."""
    lang = language(request)
    key = error_key(exc)
    message = translate(lang, key) if key else exc.detail_message
    if isinstance(exc, LoginRequired):
        # "Expired" only when there was a session; a first visit just gets the form.
        expired = "expired=1&" if request.cookies.get(SESSION_COOKIE) else ""
        target = f"{LOGIN_PATH}?{expired}next={quote(safe_next(_return_to(request)))}"
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if is_htmx(request):
        response = render(
            request, "_flash.html", {"message": message, "kind": "error"}, exc.status_code
        )
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    response = render(
        request,
        "error.html",
        {"message": message, "status_code": exc.status_code, "code": exc.code},
        exc.status_code,
    )
    response.headers.update(exc.headers)
    return response


class WebRoute(APIRoute):
    """Renders expected failures (and bad input) as pages, never as the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
                renewed = getattr(request.state, "session_renewed", None)
                if renewed is not None:
                    set_session_cookie(request, response, *renewed)
                return response
            except DomainError as exc:
                request.state.failed = True
                return render_error(request, exc)
            except RequestValidationError as exc:
                request.state.failed = True
                errors = exc.errors()
                fields = sorted({str(e.get("loc", ("", ""))[-1]) for e in errors})
                log.info("dashboard.invalid_request", path=request.url.path, fields=fields)
                # A malformed id in the address is a page that does not exist.
                if errors and all(e.get("loc", ("",))[0] == "path" for e in errors):
                    return render_error(request, PageNotFound())
                return render_error(request, DomainError())

        return guarded
