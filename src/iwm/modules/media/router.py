"""Locally stored photos behind signed, expiring links: /media/{key}."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from iwm.core.deps import ResourcesDep
from iwm.core.storage import LocalStorage
from iwm.modules.media.errors import PhotoNotFound

router = APIRouter(tags=["media"])

# What the stored files are, by the extension the storage gave them.
MEDIA_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
}


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
    media_type = MEDIA_TYPES.get(key.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    # A customer's photo: not kept in the browser's cache once the screen is left (the
    # security headers middleware adds no-store, the sandbox policy and nosniff). A PDF
    # (a KYC document) is downloaded rather than opened in the sandboxed page.
    headers = {"Content-Disposition": "attachment"} if media_type == "application/pdf" else {}
    return Response(data, media_type=media_type, headers=headers)
