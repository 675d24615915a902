"""Request field types for numbers: amounts and percentages (exact decimals, at most two
places), measures and counts. JSON bodies must carry them as numbers."""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictInt, WithJsonSchema


def _number(value: object) -> object:
    # The contract types body amounts as JSON numbers: "5.5" is a client's mistake to
    # report, not an amount to guess at. (Query parameters are text: see AmountQuery.)
    if isinstance(value, str):
        raise ValueError("must be a number, not a string")
    return value


Number = BeforeValidator(_number)


def number_schema(places: int = 2, **bounds: Any) -> WithJsonSchema:
    """The documented shape of a body number: a JSON number with its bounds (Pydantic
    would document a Decimal as "number or string", and strings are refused)."""
    return WithJsonSchema({"type": "number", "multipleOf": 10**-places, **bounds})


_MAX = 9_999_999_999_999.99

AmountIn = Annotated[
    Decimal,
    Number,
    Field(ge=0, max_digits=15, decimal_places=2),
    number_schema(minimum=0, maximum=_MAX),
]
PositiveAmountIn = Annotated[
    Decimal,
    Number,
    Field(gt=0, max_digits=15, decimal_places=2),
    number_schema(exclusiveMinimum=0, maximum=_MAX),
]
PercentIn = Annotated[
    Decimal, Number, Field(ge=0, le=100, decimal_places=2), number_schema(minimum=0, maximum=100)
]
SignedPercentIn = Annotated[
    Decimal,
    Number,
    Field(ge=-100, le=1000, decimal_places=2),
    number_schema(minimum=-100, maximum=1000),
]
AmountQuery = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]
# A descriptive measure (weight, a dimension): a number, never text.
MeasureIn = Annotated[
    Decimal,
    Number,
    Field(ge=0, le=1_000_000, decimal_places=3),
    number_schema(3, minimum=0, maximum=1_000_000),
]
# A count stored in a 32-bit column: an integer (not text, not a boolean), within range.
CountIn = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
