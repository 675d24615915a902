"""How long a request may take, and what becomes of one nobody waits for any more.

Every request has a deadline (`IWM_REQUEST_TIMEOUT_SECONDS` from its arrival). Work past it
is cancelled and answered 504 `REQUEST_TIMEOUT` in the error format. Before the request's
transaction commits, the deadline and the client are checked once more: a request whose
deadline passed or whose client has gone is rolled back instead, so a kiosk that gave up
and retries does not find a first order it was never told about (its retry, with or
without `Idempotency-Key`, then does the work once).

A long poll answers within the wait its client asked for, which may be longer than the
deadline allows: its route moves its own deadline (`extend_deadline`) to its wait plus a
margin, counted from the same arrival."""

import asyncio

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iwm.core.errors import DomainError, error_body

log = structlog.get_logger()


class RequestTimedOut(DomainError):
    status_code, code, message = (
        504,
        "REQUEST_TIMEOUT",
        "The request took longer than allowed and was not carried out",
    )


class ClientGone(DomainError):
    """Nobody reads this answer; the status is nginx's convention for it in the logs."""

    status_code, code, message = (
        499,
        "CLIENT_CLOSED_REQUEST",
        "The client closed the connection before the answer was ready",
    )


class DeadlineMiddleware:
    """Pure ASGI: puts the request's deadline (event loop time) in `scope["state"]` and
    cancels the request when it passes: 504 if nothing was answered yet."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = asyncio.get_running_loop().time()
        deadline = arrived + self.seconds
        timeout = asyncio.timeout_at(deadline)
        state = scope.setdefault("state", {})
        state["arrived"], state["deadline"], state["timeout"] = arrived, deadline, timeout
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)
            answered = message["type"] == "http.response.body" and not message.get("more_body")
            if answered and not timeout.expired():
                # The deadline bounds the answer; what the request runs after it (its
                # background tasks) is not cut off with it.
                timeout.reschedule(None)

        try:
            async with timeout:
                await self.app(scope, receive, send_tracked)
        except TimeoutError:
            if not timeout.expired():
                raise  # a part's own timeout, already answered 503 inside
            log.warning(
                "request.timed_out", path=scope["path"], seconds=state["deadline"] - arrived
            )
            if started:
                raise  # half an answer: the server closes the connection
            err = RequestTimedOut()
            response = JSONResponse(
                error_body(err.code, err.detail_message),
                status_code=err.status_code,
                # The request's body may be unread: this connection carries no other.
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)


async def ensure_still_wanted(request: Request) -> None:
    """Raises RequestTimedOut when the request's deadline has passed, ClientGone when its
    client closed the connection: called just before the request's transaction commits."""
    deadline = request.scope.get("state", {}).get("deadline")
    if deadline is not None and asyncio.get_running_loop().time() > deadline:
        raise RequestTimedOut()
    if await request.is_disconnected():
        log.warning("request.client_gone", path=request.url.path)
        raise ClientGone()


def arrived_at(request: Request) -> float:
    """When the request arrived (event loop clock): now, without the deadline middleware."""
    arrived: float | None = request.scope.get("state", {}).get("arrived")
    return asyncio.get_running_loop().time() if arrived is None else arrived


def extend_deadline(request: Request, until: float) -> None:
    """Lets the request run until `until` (event loop clock) when that is later than its
    deadline: a long poll's wait is bounded by the wait itself, not by the deadline of
    ordinary requests. A deadline that already fired is left alone: the request's
    cancellation is under way (504), or was swallowed by a library on its way, and neither
    is a reason to crash the request."""
    state = request.scope.get("state", {})
    timeout: asyncio.Timeout | None = state.get("timeout")
    if timeout is not None and not timeout.expired() and until > state["deadline"]:
        timeout.reschedule(until)
        state["deadline"] = until
