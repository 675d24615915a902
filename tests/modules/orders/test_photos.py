"""Uploaded photos are decoded in full, limited in size and stored re-encoded, without the
camera's metadata; the dashboard lists them by their thumbnails."""

import io
import re
import struct
import uuid
import zlib

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.deps import SESSION_COOKIE
from iwm.core.resources import Resources
from iwm.modules.cleanup.service import CleanupService
from iwm.modules.orders.models import Order
from tests.factories.images import jpeg, png
from tests.factories.kiosk_network import PASSWORD, KioskHandle, make_world

FORM = {"customerName": "John Doe", "customerEmail": "john@example.com"}
SERIAL = "SN-4242-CAMERA"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'exif:GPSLatitude="32,4.5N"/></rdf:RDF></x:xmpmeta>'
)


def _jpeg_with_gps(width: int = 60, height: int = 40, orientation: int = 6) -> bytes:
    """A camera-like JPEG: GPS position, body serial number, orientation tag and XMP."""
    img = Image.new("RGB", (width, height), "#336699")
    img.paste((255, 0, 0), (0, 0, 10, 10))  # a red corner, to see the turn
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    exif[0xA431] = SERIAL  # BodySerialNumber (Exif IFD in real files, fine here)
    exif[0x927C] = b"MAKERNOTE-SECRET"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (32.0, 4.0, 30.0)
    gps[3] = "E"
    gps[4] = (34.0, 46.0, 50.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, xmp=XMP)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims the size; its pixel data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _big_bilevel_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    return out.getvalue()


async def _post(client: httpx.AsyncClient, kiosk: KioskHandle, image: bytes) -> httpx.Response:
    return await client.post(
        f"/kiosk/{kiosk.id}/orders",
        headers=kiosk.headers,
        data=FORM,
        files={"image": ("photo.jpg", image, "image/jpeg")},
    )


async def _stored(resources: Resources, db: AsyncSession, order_id: str) -> tuple[Order, bytes]:
    order = (await db.execute(select(Order).where(Order.id == uuid.UUID(order_id)))).scalar_one()
    data = await resources.storage.get(order.image_key)
    assert data is not None
    return order, data


async def test_camera_metadata_is_dropped_and_orientation_applied(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    upload = _jpeg_with_gps()
    with Image.open(io.BytesIO(upload)) as original:  # the fixture really carries them
        assert original.getexif().get_ifd(0x8825)
        assert SERIAL.encode() in upload
    resp = await _post(client, world.kiosks[0], upload)
    assert resp.status_code == 201, resp.text
    order, data = await _stored(resources, db, resp.json()["id"])
    assert data != upload
    for secret in (SERIAL.encode(), b"MAKERNOTE-SECRET", b"CameraMaker", b"GPSLatitude", b"Exif"):
        assert secret not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.format == "JPEG"
        assert not stored.getexif()
        assert "xmp" not in stored.info
        assert "exif" not in stored.info
        # Orientation 6 (turn 90 degrees clockwise to view) is applied to the pixels.
        assert stored.size == (40, 60)
        red = stored.convert("RGB").getpixel((35, 4))
        assert isinstance(red, tuple)
        assert red[0] > 200
        assert red[1] < 60
    # The photo served to the dashboard is the re-encoded one.
    assert order.image_content_type == "image/jpeg"


async def test_png_text_chunks_are_dropped(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    info = PngInfo()
    info.add_text("Comment", "home address: 1 Secret Street")
    out = io.BytesIO()
    Image.new("RGBA", (30, 20), (1, 2, 3, 255)).save(out, "PNG", pnginfo=info)
    world = await make_world(resources)
    resp = await _post(client, world.kiosks[0], out.getvalue())
    assert resp.status_code == 201, resp.text
    _, data = await _stored(resources, db, resp.json()["id"])
    assert b"Secret Street" not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.format == "PNG"
        assert stored.size == (30, 20)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (_png_header_only(12_000, 12_000), "pixels"),
        (_png_header_only(1, 60_000_000), "pixels on a side"),
        (_png_header_only(60_000_000, 1), "pixels on a side"),
        (_big_bilevel_png(9_000), "pixels"),
        (png() + b"<html><script>alert(1)</script></html>", "after the end"),
        (jpeg(640, 480)[:-600], "not a readable"),
        (_png_header_only(64, 48), "not a readable"),
    ],
    ids=[
        "claims-12000x12000",
        "1x60M",
        "60Mx1",
        "real-9000x9000",
        "html-appended",
        "truncated-jpeg",
        "bad-pixel-data",
    ],
)
async def test_oversized_broken_or_padded_images_are_400(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, image: bytes, reason: str
) -> None:
    world = await make_world(resources)
    resp = await _post(client, world.kiosks[0], image)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert reason in error["details"]["image"][0]
    assert (await db.execute(select(Order))).first() is None


async def test_pixel_limit_follows_the_setting(
    client: httpx.AsyncClient, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resources.settings.max_image_pixels == 40_000_000
    world = await make_world(resources)
    monkeypatch.setattr(resources.settings, "max_image_pixels", 64 * 48 - 1)
    resp = await _post(client, world.kiosks[0], jpeg(64, 48))
    assert resp.status_code == 400
    monkeypatch.setattr(resources.settings, "max_image_pixels", 64 * 48)
    assert (await _post(client, world.kiosks[0], jpeg(64, 48))).status_code == 201


async def test_thumbnail_made_once_and_listed_by_the_dashboard(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    resp = await _post(client, world.kiosks[0], jpeg(1600, 1200))
    assert resp.status_code == 201, resp.text
    order, _ = await _stored(resources, db, resp.json()["id"])
    assert order.thumbnail_key is not None
    thumb = await resources.storage.get(order.thumbnail_key)
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as small:
        assert small.format == "JPEG"
        assert max(small.size) <= 480
    login = await client.post(
        "/auth/login", json={"email": world.partner.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    client.cookies.set(SESSION_COOKIE, login.json()["token"])
    try:
        page = await client.get("/dashboard")
        history = await client.get("/dashboard/orders")
    finally:
        client.cookies.clear()
    for html in (page.text, history.text):
        assert page.status_code == 200
        assert order.thumbnail_key in html
        # The full photo is loaded on its own page only (the list names it for printing).
        sources = re.findall(r'<img[^>]*\bsrc="([^"]+)"', html)
        assert sources
        assert not [src for src in sources if f"{order.image_key}?" in src]
    # The thumbnail belongs to its order: the orphan sweep leaves it alone.
    found = await CleanupService(resources)._drop_unreferenced(
        [order.image_key, order.thumbnail_key], delete_them=False
    )
    assert found == 0
