"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs too much on the hot paths)."""

import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

import structlog
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iwm.core.config import Settings
from iwm.core.errors import error_body
from iwm.core.metrics import count_request
from iwm.core.money import unmark

_log = structlog.get_logger("iwm.request")


class Draining:
    """Set in a server process that is shutting down (SIGTERM): every answer from then on
    says `Connection: close`, so a kept-alive client opens its next connection elsewhere
    instead of having this one closed under its next request."""

    now = False


class RequestIdMiddleware:
    """Binds a request id to the log context and echoes it as `X-Request-ID`; when the
    answer is done, counts it in the metrics and writes the request's one log line
    (`request.answered`: method, route template, status, duration, principal). Adds
    `Connection: close` while the process drains (see `Draining`). Routes need nothing of
    their own for any of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        request_id = request_id or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        raw_id = request_id.encode("latin-1")
        status = 500  # unless an answer starts: an exception escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", raw_id)]
                if Draining.now:
                    message["headers"].append((b"connection", b"close"))
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = _route(scope)
            method = scope["method"]
            count_request(method, route, status, seconds)
            _log.info(
                "request.answered",
                method=method,
                route=route,
                status=status,
                ms=round(seconds * 1000, 1),
                principal=_principal(state),
            )
            structlog.contextvars.clear_contextvars()


def _route(scope: Scope) -> str:
    """The route template (`/kiosk/{kiosk_id}/orders`), never the raw path: one series per
    route whatever the ids."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    named = scope.get("state", {}).get("route")
    if named is not None:
        return str(named)
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return "unmatched"
    path = _ENDPOINT_PATHS.get(endpoint)
    if path is None:
        path = _ENDPOINT_PATHS[endpoint] = _path_of(scope.get("app"), endpoint)
    return path


# Routes that are not FastAPI's own (`/openapi.json`, the mounted static files) leave only
# their endpoint in the scope: their template, found once per endpoint.
_ENDPOINT_PATHS: dict[object, str] = {}


def _path_of(app: object, endpoint: object) -> str:
    for route in getattr(app, "routes", ()):
        if getattr(route, "endpoint", None) is endpoint:
            return str(route.path)
        if isinstance(route, Mount) and route.app is endpoint:
            return f"{route.path}/{{path}}"
    return "unmatched"


def _principal(state: dict[str, object]) -> str | None:
    principal = state.get("principal")
    if principal is not None:
        return str(getattr(principal, "user_id", principal))
    kiosk_id = state.get("kiosk_id")
    return f"kiosk:{kiosk_id}" if kiosk_id is not None else None


_TOO_LARGE = "The request body is larger than allowed"


class BodyLimitMiddleware:
    """A request body past its limit is a 413 PAYLOAD_TOO_LARGE in the error format, before
    it is read whole: at once when Content-Length says so, else as soon as the bytes
    received pass the limit. The paths that upload files (the kiosk's photos, a member's
    KYC documents) have their own, larger limits: `uploads` maps a path prefix to one."""

    def __init__(self, app: ASGIApp, limit: int, uploads: Mapping[str, int]) -> None:
        self.app = app
        self.limit = limit
        self.uploads = tuple(uploads.items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = next((n for prefix, n in self.uploads if path.startswith(prefix)), self.limit)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await _too_large(scope, receive, send)
                    return
                break
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, so that the body parser passes it on as it is; the
                    # app's error handlers render it as 413 PAYLOAD_TOO_LARGE.
                    raise HTTPException(413, _TOO_LARGE)
            return message

        await self.app(scope, receive_within_limit, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        error_body("PAYLOAD_TOO_LARGE", _TOO_LARGE),
        status_code=413,
        # The body is left unread: the connection cannot carry another request.
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


class ExactNumbersMiddleware:
    """Writes the Money values of a JSON response as exact JSON numbers (see
    `core.money.MARKER`): the body is held until complete, the marked strings become bare
    numbers and Content-Length follows. Other responses pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_exact(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if any(
                    name == b"content-type" and value.startswith(b"application/json")
                    for name, value in headers
                ):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = unmark(b"".join(chunks))
            headers = [(n, v) for n, v in start.get("headers", []) if n != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_exact)


PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AllowedHostsMiddleware:
    """A request whose Host is not one of `allowed` ("name", "*.domain", or "*" for any)
    is a 400 INVALID_HOST in the error format: links and redirects the app builds from the
    Host header can then never point elsewhere. Probes and scrapes (`PROBE_PATHS`) answer
    whatever their Host: a container's health check, a load balancer or Prometheus call
    the server by its address, and these answers carry no link."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.exact = {h for h in allowed if not h.startswith("*.")}
        self.suffixes = tuple(h[1:] for h in allowed if h.startswith("*."))

    def allows(self, host: str) -> bool:
        name = _host_name(host)
        return bool(name) and (name in self.exact or name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket") or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            error_body("INVALID_HOST", "This host name is not served here"), status_code=400
        )
        await response(scope, receive, send)


def _host_name(host: str) -> str:
    """The host name of a Host header value, lower-case, without the port."""
    host = host.strip().lower()
    if host.startswith("["):  # [IPv6]:port
        return host[: host.find("]") + 1] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SecurityHeadersMiddleware:
    """The browser-side safety headers on every answer.

    A Content-Security-Policy with no inline script or style (the dashboard's scripts and
    styles are files), `frame-ancestors 'none'`, `nosniff`, no Referer (signed photo links
    carry their signature in the address), `Cache-Control: no-store` unless the route chose
    its own (pages and API answers carry customers' names, emails and photos; a shared
    tablet's Back button must not show them after sign out), HSTS when the scheme is https.
    `/media` (uploaded photos) answers in a sandbox. The dashboard's static files and the
    API documentation pages are the exceptions noted inline."""

    def __init__(self, app: ASGIApp, img_sources: list[str]) -> None:
        self.app = app
        images = " ".join(["'self'", "data:", *img_sources])
        policy = "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                f"img-src {images}",
                "connect-src 'self'",
                "font-src 'self'",
                "form-action 'self'",
                "base-uri 'none'",
                "object-src 'none'",
                "frame-ancestors 'none'",
            ]
        )
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        self.page = [*common, (b"content-security-policy", policy.encode())]
        self.media = [
            *common,
            (b"content-security-policy", b"sandbox; default-src 'none'; frame-ancestors 'none'"),
        ]
        # Swagger UI and ReDoc (files of the package, under /docs/static/) run inline
        # scripts; they are off in production unless asked for, and get only the framing
        # rule.
        self.docs = [*common, (b"content-security-policy", b"frame-ancestors 'none'")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/media/"):
            extra = self.media
        elif path in _DOC_PATHS or path.startswith("/docs/"):
            extra = self.docs
        else:
            extra = self.page
        # The dashboard's and the documentation's own CSS and JavaScript may be cached
        # (no personal data).
        cacheable = path.startswith(("/dashboard/static/", "/docs/static/"))
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in names]
                if not cacheable and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_DOC_PATHS = frozenset({"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})


def photo_origins(settings: Settings) -> list[str]:
    """Where the dashboard's photos come from, for its `img-src`: the app's own photo links
    (`IWM_PUBLIC_BASE_URL`), or the S3 endpoint that presigns them."""
    origins = [_origin(settings.public_base_url)]
    if settings.storage_url.startswith("s3://"):
        endpoint = settings.s3_endpoint_url
        origins.append(_origin(endpoint) if endpoint else "https://*.amazonaws.com")
    return [o for o in origins if o]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
