"""Money: `Decimal` in Python, integer minor units in the database, JSON numbers with at
most two decimals written from the Decimal exactly. Rounding is ROUND_HALF_UP, in
`to_minor` and `json_text` only."""

import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(CENT)


def to_minor(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_whole(amount: Decimal) -> int:
    """Whole units (career points), with the same ROUND_HALF_UP mode."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_to_bp(percent: Decimal) -> int:
    """A percentage with at most two decimals (12.5) as hundredths of a percent (1250)."""
    return to_minor(percent)


def bp_to_percent(bp: int) -> Decimal:
    return from_minor(bp)


def json_text(value: Decimal) -> str:
    """The JSON number of an amount: at most two decimals (ROUND_HALF_UP), a whole amount as
    an integer (`125000`), trailing zeros dropped (`450.5`), never an exponent."""
    text = format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# Pydantic writes a Decimal as a JSON string and a float loses digits past the 15th
# (99999999999999.99 became ...98). So a Money value is serialised to a string carrying
# this per-process marker and its exact digits, and `ExactNumbersMiddleware` rewrites the
# quoted marker into the bare number in every JSON response body. The marker holds 128
# random bits and never leaves the process, so no stored text can imitate it.
MARKER = f"~n{secrets.token_hex(16)}~"


def _json_number(value: Decimal) -> str:
    return MARKER + json_text(value)


_OPENING = b'"' + MARKER.encode()


def unmark(body: bytes) -> bytes:
    """A JSON document with every marked Money value written as its bare number."""
    if _OPENING not in body:
        return body
    # Split at each opening quote + marker; the digits run to the next quote, which closes
    # the marked string (a regex with a template cost ten times as much per amount).
    head, *marked = body.split(_OPENING)
    parts = [head]
    for part in marked:
        end = part.index(b'"')
        parts.append(part[:end])
        parts.append(part[end + 1 :])
    return b"".join(parts)


Money = Annotated[
    Decimal,
    PlainSerializer(_json_number, return_type=str, when_used="json"),
    WithJsonSchema({"type": "number"}, mode="serialization"),
]
