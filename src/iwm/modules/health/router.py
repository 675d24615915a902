"""Liveness and readiness probes."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from iwm.core.deps import ResourcesDep
from iwm.core.resources import Resources
from iwm.modules.health.schemas import PartCheck, Readiness

router = APIRouter(tags=["health"])

# A readiness probe answers in bounded time even when a part hangs past its own timeouts.
CHECK_TIMEOUT_SECONDS = 3.0


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


async def _database(resources: Resources) -> None:
    async with resources.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _redis(resources: Resources) -> None:
    assert resources.redis is not None  # noqa: S101 - only checked when configured
    await resources.redis.ping()


async def _storage(resources: Resources) -> None:
    await resources.storage.check()


async def _timed(check: Callable[[], Awaitable[None]]) -> PartCheck:
    started = time.perf_counter()
    error = None
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure is the answer, not a crash
        error = type(exc).__name__
    return PartCheck(
        status="ok" if error is None else "error",
        ms=round((time.perf_counter() - started) * 1000, 1),
        error=error,
    )


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A part does not answer"}},
)
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """The database, Redis (when configured) and the photo storage answer. One shape,
    ready (200) or not (503, with `Retry-After`): per part its status, the check's time in
    milliseconds and, on a failure, the failure's kind."""
    checks = {"database": _database, "storage": _storage}
    if resources.redis is not None:
        checks["redis"] = _redis
    parts = await asyncio.gather(*(_timed(partial(c, resources)) for c in checks.values()))
    ready = all(part.status == "ok" for part in parts)
    body = Readiness(
        status="ready" if ready else "not_ready", checks=dict(zip(checks, parts, strict=True))
    ).model_dump(exclude_none=True)
    if ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
