"""Liveness and readiness probes, and the local photo route."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from iwm.core.deps import ResourcesDep
from iwm.core.errors import NotFound, error_body
from iwm.core.storage import LocalStorage

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


class PhotoNotFound(NotFound):
    code, message = "PHOTO_NOT_FOUND", "Photo not found or link expired"


@router.api_route("/media/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def media(
    key: str,
    resources: ResourcesDep,
    expires: Annotated[int, Query()] = 0,
    signature: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    """A locally stored photo, behind a signed, expiring link (like an S3 presigned URL)."""
    storage = resources.storage
    if not isinstance(storage, LocalStorage) or not storage.verify(key, expires, signature):
        raise PhotoNotFound()
    data = await storage.get(key)
    if data is None:
        raise PhotoNotFound()
    media_type = "image/png" if key.endswith(".png") else "image/jpeg"
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
