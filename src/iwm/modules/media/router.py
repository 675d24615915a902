"""Locally stored photos behind signed, expiring links: /media/{key}."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from iwm.core.deps import ResourcesDep
from iwm.core.storage import LocalStorage
from iwm.modules.media.errors import PhotoNotFound

router = APIRouter(tags=["media"])


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
    # A customer's photo: not kept in the browser's cache once the screen is left (the
    # security headers middleware adds no-store, the sandbox policy and nosniff).
    return Response(data, media_type=media_type)
