"""Uploaded photos as stored (kiosk order photos, member avatars): decoded in full,
turned upright, re-encoded without metadata.

The uploaded bytes are never stored or served as they came: a file that does not decode in
full, is larger than the limits or carries anything after its image is refused, and what
is kept is a fresh encoding of the pixels (EXIF, GPS, maker notes, XMP and text chunks
left behind), with a small JPEG thumbnail for the dashboard's lists.
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from iwm.core.errors import DomainError


class InvalidImage(DomainError):
    status_code, code, message = 400, "VALIDATION_ERROR", "The photo must be a JPEG or PNG image"


# JPEGs with a multi-picture index (many phones: depth maps, gain maps) open as MPO; the
# first picture is the photo.
_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
}
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_QUALITY = 92
THUMBNAIL_SIDE = 480
THUMBNAIL_QUALITY = 80


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    data: bytes
    content_type: str
    ext: str
    thumbnail: bytes  # always JPEG
    width: int
    height: int


def _refuse(reason: str) -> InvalidImage:
    return InvalidImage(details={"image": [reason]})


def clean_photo(data: bytes, *, max_pixels: int, max_side: int) -> CleanPhoto:
    """The stored form of an uploaded photo; raises InvalidImage (400 VALIDATION_ERROR)."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as img:
            fmt = img.format or ""
            width, height = img.size
            # Judged from the header, before a single pixel is decoded.
            if width > max_side or height > max_side:
                raise _refuse(f"at most {max_side} pixels on a side ({width}x{height})")
            if width * height > max_pixels:
                raise _refuse(f"at most {max_pixels} pixels ({width}x{height})")
            img.load()  # the whole image: truncated or corrupt data fails here
            upright = ImageOps.exif_transpose(img)
            icc = img.info.get("icc_profile")
    except InvalidImage:
        raise
    except Image.DecompressionBombError:
        raise _refuse(f"at most {max_pixels} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse("not a readable JPEG or PNG image") from None
    if fmt == "PNG" and not data.endswith(_PNG_END):
        raise _refuse("data after the end of the image")
    content_type, ext = _FORMATS[fmt]
    if upright.mode in ("P", "PA"):  # a palette would not survive the copy below
        upright = upright.convert("RGBA" if upright.has_transparency_data else "RGB")
    # A new image holds the pixels only: nothing of the upload's metadata can ride along.
    pixels = Image.new(upright.mode, upright.size)
    pixels.paste(upright)
    out = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if ext == "jpg":
        if pixels.mode not in ("L", "RGB", "CMYK"):
            pixels = pixels.convert("RGB")
        pixels.save(out, "JPEG", quality=JPEG_QUALITY, **extra)
    else:
        pixels.save(out, "PNG", **extra)
    return CleanPhoto(
        data=out.getvalue(),
        content_type=content_type,
        ext=ext,
        thumbnail=_thumbnail(pixels),
        width=pixels.width,
        height=pixels.height,
    )


def _thumbnail(img: Image.Image) -> bytes:
    small = img.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    if small.mode in ("RGBA", "LA", "PA") or (small.mode == "P" and "transparency" in small.info):
        rgba = small.convert("RGBA")
        small = Image.new("RGB", rgba.size, "white")
        small.paste(rgba, mask=rgba.getchannel("A"))
    elif small.mode != "RGB":
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()
