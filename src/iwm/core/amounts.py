"""Request field types for amounts and percentages: exact decimals, at most two places."""

from decimal import Decimal
from typing import Annotated

from pydantic import Field

AmountIn = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]
PositiveAmountIn = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=2)]
PercentIn = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
SignedPercentIn = Annotated[Decimal, Field(ge=-100, le=1000, decimal_places=2)]
