"""Request field types for numbers: amounts and percentages (exact decimals, at most two
places), measures and counts. JSON bodies must carry them as numbers."""

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, StrictInt


def _number(value: object) -> object:
    # The contract types body amounts as JSON numbers: "5.5" is a client's mistake to
    # report, not an amount to guess at. (Query parameters are text: see AmountQuery.)
    if isinstance(value, str):
        raise ValueError("must be a number, not a string")
    return value


_Number = BeforeValidator(_number)

AmountIn = Annotated[Decimal, _Number, Field(ge=0, max_digits=15, decimal_places=2)]
PositiveAmountIn = Annotated[Decimal, _Number, Field(gt=0, max_digits=15, decimal_places=2)]
PercentIn = Annotated[Decimal, _Number, Field(ge=0, le=100, decimal_places=2)]
SignedPercentIn = Annotated[Decimal, _Number, Field(ge=-100, le=1000, decimal_places=2)]
AmountQuery = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]
# A descriptive measure (weight, a dimension): a number, never text.
MeasureIn = Annotated[Decimal, _Number, Field(ge=0, le=1_000_000, decimal_places=3)]
# A count stored in a 32-bit column: an integer (not text, not a boolean), within range.
CountIn = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
