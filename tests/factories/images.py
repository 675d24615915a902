import io

from PIL import Image


def jpeg(width: int = 64, height: int = 48, colour: str = "#2a9d8f") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 10, 10, 255)).save(out, "PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    return out.getvalue()
