"""Money: `Decimal` in Python, integer minor units in the database, JSON numbers with at
most two decimals. Rounding is ROUND_HALF_UP, in `to_minor` only."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer

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


def _json_number(value: Decimal) -> float | int:
    value = value.quantize(CENT)
    # A whole amount is written as an integer (125000), anything else with its cents.
    return int(value) if value == value.to_integral_value() else float(value)


Money = Annotated[Decimal, PlainSerializer(_json_number, return_type=float, when_used="json")]
