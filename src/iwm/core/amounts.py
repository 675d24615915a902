"""Request field types for amounts and percentages: exact decimals, at most two places."""

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field


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
