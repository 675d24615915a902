"""Liveness and readiness probes."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from iwm.core.deps import ResourcesDep
from iwm.core.errors import error_body

router = APIRouter(tags=["health"])


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """The database (and Redis, when configured) answer."""
    checks: dict[str, str] = {}
    try:
        async with resources.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if resources.redis is not None:
        try:
            await resources.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    body = error_body(
        "NOT_READY", "A dependency is unreachable", {k: [v] for k, v in checks.items()}
    )
    return JSONResponse(body, status_code=503)
