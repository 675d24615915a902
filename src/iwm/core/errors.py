"""The one error format of every surface, and the handlers that produce it."""

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException

from iwm.core.metrics import PART_ERRORS

log = structlog.get_logger()


class DomainError(Exception):
    """An expected failure: rendered in the error format, not logged as a crash."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "VALIDATION_ERROR"
    message: ClassVar[str] = "Invalid request"

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail_message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.detail_message)


class ValidationFailed(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "Invalid request"


class Unauthorized(DomainError):
    status_code, code, message = 401, "UNAUTHORIZED", "Missing, invalid or expired access token"


class Forbidden(DomainError):
    status_code, code, message = 403, "FORBIDDEN", "Insufficient permissions"


class NotFound(DomainError):
    status_code, code, message = 404, "NOT_FOUND", "Resource not found"


class RateLimited(DomainError):
    status_code, code, message = 429, "RATE_LIMITED", "Too many requests, try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(DomainError):
    status_code, code, message = (
        503,
        "SERVICE_UNAVAILABLE",
        "A part of the service is unavailable, try again shortly",
    )

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)})


# What a client is told to wait after an outage answer: the parts' timeouts are about a
# second, and a restarted part is usually back within a few.
OUTAGE_RETRY_AFTER_SECONDS = 5


def outage_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean a part (PostgreSQL, Redis, S3) is down or too slow, not
    that the request or the code is wrong: each is answered 503 SERVICE_UNAVAILABLE."""
    import botocore.exceptions  # noqa: PLC0415 - loaded with the app anyway
    import redis.exceptions  # noqa: PLC0415
    import sqlalchemy.exc  # noqa: PLC0415

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        # Connections refused or dropped, a statement past its timeout, a database in
        # recovery, a pool with no free connection in time.
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,
        botocore.exceptions.ConnectionError,
        botocore.exceptions.HTTPClientError,
        # Raised unwrapped by the drivers when a socket fails or a bound elapses.
        ConnectionError,
        TimeoutError,
    )


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, outage_errors()):
        return True
    import sqlalchemy.exc  # noqa: PLC0415

    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        # A PostgreSQL restart ends the connections in use: the driver then raises whatever
        # the half-finished operation ran into (the server's "terminating connection due to
        # administrator command", a protocol state error), wrapped as a generic DBAPIError.
        return exc.connection_invalidated or any(_lost_connection(c) for c in _causes(exc))
    return False


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in found and len(found) < 10:  # noqa: PLR2004
        found.append(cause)
        cause = cause.__cause__ or getattr(cause, "orig", None)
    return found


def _lost_connection(exc: BaseException) -> bool:
    import asyncpg.exceptions as pg  # noqa: PLC0415

    return isinstance(
        exc,
        pg.PostgresConnectionError  # the connection is gone
        | pg.OperatorInterventionError  # shutting down, starting up, restarted
        | pg.InternalClientError  # a connection left mid-operation by the above
        | ConnectionError
        | TimeoutError,
    ) or (isinstance(exc, pg.InterfaceError) and "connection is closed" in str(exc))


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": details or {}}}


def error_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route, from the domain errors it may raise."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status_code, {"description": ""})
        entry["description"] = " | ".join(filter(None, [entry["description"], err.code]))
    return out


_PARAM_SOURCES = ("query", "path", "header", "cookie")


def _field_name(loc: tuple[Any, ...]) -> str:
    """The request's own name for the field: a parameter's name (without the type tags a
    union adds), a body field's dotted path, or `body` for a body that is not JSON."""
    if not loc:
        return "request"
    if loc[0] == "path" and len(loc) > 1:
        # Path parameters are snake_case Python names; the API speaks camelCase.
        return to_camel(str(loc[1]))
    if loc[0] in _PARAM_SOURCES and len(loc) > 1:
        return str(loc[1])
    parts = (
        [str(p) for p in loc[1:] if isinstance(p, str)]
        if loc[0] in ("body", "form")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0])


def validation_details(errors: Sequence[Any]) -> dict[str, list[str]]:
    details: dict[str, list[str]] = {}
    for err in errors:
        details.setdefault(_field_name(tuple(err.get("loc", ()))), []).append(str(err["msg"]))
    return details


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)  # noqa: S101
    return JSONResponse(
        error_body(exc.code, exc.detail_message, exc.details),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)  # noqa: S101
    # A pydantic ValidationError raised while building a model from request values (in a
    # dependency) is bad input too, not a crash.
    errors = exc.errors()
    if isinstance(exc, ValidationError):
        errors = [
            {**e, "loc": ("body", *(to_camel(p) if isinstance(p, str) else p for p in e["loc"]))}
            for e in errors
        ]
    return JSONResponse(
        error_body("VALIDATION_ERROR", "Request validation failed", validation_details(errors)),
        status_code=400,
    )


_HTTP_CODES = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code = _HTTP_CODES.get(
        exc.status_code,
        "VALIDATION_ERROR" if exc.status_code < HTTPStatus.INTERNAL_SERVER_ERROR else "ERROR",
    )
    message = exc.detail if isinstance(exc.detail, str) else "Request failed"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _outage(request: Request, exc: Exception) -> JSONResponse:
    # Expected while a part is down: one line, no traceback (thousands may come at once).
    log.warning(
        "request.part_unavailable",
        path=request.url.path,
        error=type(exc).__name__,
        reason=str(exc)[:200],
    )
    PART_ERRORS.labels(_part_of(exc)).inc()
    err = ServiceUnavailable()
    return JSONResponse(
        error_body(err.code, err.detail_message), status_code=err.status_code, headers=err.headers
    )


def _part_of(exc: Exception) -> str:
    module = type(exc).__module__
    if module.startswith("redis"):
        return "redis"
    if module.startswith(("botocore", "aiobotocore")):
        return "storage"
    if module.startswith(("sqlalchemy", "asyncpg")):
        return "database"
    return "other"


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_outage(exc):  # raised outside the routes (a middleware)
        return await _outage(request, exc)
    request_id = getattr(request.state, "request_id", None)
    log.exception("request.crashed", exc_info=exc, path=request.url.path)
    return JSONResponse(
        error_body("INTERNAL_ERROR", "Internal server error", {"requestId": [str(request_id)]}),
        status_code=500,
        # The server drops the connection after an unhandled error; say so to the client.
        headers={"Connection": "close"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for outage in outage_errors():
        app.add_exception_handler(outage, _outage)
    app.add_exception_handler(Exception, _unexpected)
