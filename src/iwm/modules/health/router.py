"""Liveness and readiness probes."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from iwm.core.deps import ResourcesDep
from iwm.core.errors import error_body
from iwm.core.resources import Resources

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


async def _timed(check: Callable[[], Awaitable[None]]) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        outcome = "ok"
    except Exception as exc:  # any failure is the answer, not a crash
        outcome = f"error: {type(exc).__name__}"
    return outcome, round((time.perf_counter() - started) * 1000, 1)


@router.get("/readyz")
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """The database, Redis (when configured) and the photo storage answer; each check's
    time in milliseconds under `durationsMs`."""
    checks = {"database": _database, "storage": _storage}
    if resources.redis is not None:
        checks["redis"] = _redis
    outcomes = await asyncio.gather(*(_timed(partial(c, resources)) for c in checks.values()))
    results = dict(zip(checks, (o for o, _ in outcomes), strict=True))
    durations = dict(zip(checks, (d for _, d in outcomes), strict=True))
    if all(v == "ok" for v in results.values()):
        return JSONResponse({"status": "ready", "checks": results, "durationsMs": durations})
    body = error_body(
        "NOT_READY",
        "A dependency is unreachable",
        {k: [v, f"{durations[k]} ms"] for k, v in results.items()},
    )
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
