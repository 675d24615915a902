"""A KYC file as accepted: JPEG, PNG or PDF, judged by its content (never its name or the
type the client claims), within the size limit; an image must decode in full within the
pixel limits, a PDF must be complete. The file is stored as the member sent it: it is the
evidence the reviewer judges."""

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from iwm.core.config import Settings
from iwm.modules.kyc.errors import DocumentTooLarge, InvalidDocument

_SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
]
# A PDF ends with %%EOF (a few bytes of line ends or padding may follow).
_PDF_TAIL = 1024


@dataclass(frozen=True, slots=True)
class CheckedFile:
    content_type: str
    ext: str

    @property
    def is_image(self) -> bool:
        return self.content_type != "application/pdf"


def _refuse(field: str, reason: str) -> InvalidDocument:
    return InvalidDocument(details={field: [reason]})


def sniff(data: bytes, field: str = "documents") -> CheckedFile:
    for magic, content_type, ext in _SIGNATURES:
        if data.startswith(magic):
            return CheckedFile(content_type, ext)
    raise _refuse(field, "unsupported file type: JPEG, PNG or PDF only")


def check_document(data: bytes, field: str, settings: Settings) -> CheckedFile:
    """InvalidDocument (400 VALIDATION_ERROR) or DocumentTooLarge (413), naming `field`."""
    if not data:
        raise _refuse(field, "the file is empty")
    limit = settings.kyc_document_max_bytes
    if len(data) > limit:
        raise DocumentTooLarge(details={field: [f"at most {limit} bytes"]})
    checked = sniff(data, field)
    if not checked.is_image:
        if b"%%EOF" not in data[-_PDF_TAIL:]:
            raise _refuse(field, "not a complete PDF document")
        return checked
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as img:
            width, height = img.size
            # Judged from the header, before a single pixel is decoded.
            side = settings.max_image_side
            if width > side or height > side:
                raise _refuse(field, f"at most {side} pixels on a side ({width}x{height})")
            if width * height > settings.max_image_pixels:
                raise _refuse(field, f"at most {settings.max_image_pixels} pixels")
            img.load()  # truncated or corrupt data fails here
    except InvalidDocument:
        raise
    except Image.DecompressionBombError:
        raise _refuse(field, f"at most {settings.max_image_pixels} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(field, "not a readable JPEG or PNG image") from None
    return checked
