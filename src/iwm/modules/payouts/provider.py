"""The payment-provider interface behind `process`, and the simulated provider.

Every call carries the payout's idempotency key: a provider pays a key at most once and
answers a repeated key with the payment it already made, so a retry never pays twice.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core.upsert import upsert
from iwm.modules.payouts.errors import ProviderDeclined
from iwm.modules.payouts.models import SimulatedPayment


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    idempotency_key: str
    amount_minor: int
    currency: str
    method_type: str
    reference_hint: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentResult:
    reference: str
    completed: bool
    estimated_completion: datetime | None = None


class PaymentProvider(Protocol):
    async def pay(self, order: PaymentOrder) -> PaymentResult:
        """Pays once per idempotency key; raises ProviderDeclined when the payment fails."""
        ...


class SimulatedProvider:
    """Pays at once. Its payments are rows of `simulated_payments` (own transaction, as an
    outside system would keep them), unique by idempotency key."""

    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self._maker = maker

    async def pay(self, order: PaymentOrder) -> PaymentResult:
        async with self._maker.begin() as db:
            await db.execute(
                upsert(
                    db,
                    SimulatedPayment,
                    {
                        "idempotency_key": order.idempotency_key,
                        "reference": f"SIM-{secrets.token_hex(8).upper()}",
                        "amount_minor": order.amount_minor,
                        "currency": order.currency,
                    },
                    key=["idempotency_key"],
                )
            )
            reference = await db.scalar(
                select(SimulatedPayment.reference).where(
                    SimulatedPayment.idempotency_key == order.idempotency_key
                )
            )
        assert reference is not None  # noqa: S101
        return PaymentResult(reference=reference, completed=True)


class FailingProvider:
    """Declines every payment (configuration `IWM_PAYOUT_PROVIDER=failing`)."""

    async def pay(self, order: PaymentOrder) -> PaymentResult:
        raise ProviderDeclined(details={"provider": ["payment declined"]})


def make_provider(name: str, maker: async_sessionmaker[AsyncSession]) -> PaymentProvider:
    if name == "failing":
        return FailingProvider()
    if name == "simulated":
        return SimulatedProvider(maker)
    raise ValueError(f"unknown IWM_PAYOUT_PROVIDER: {name!r}")
