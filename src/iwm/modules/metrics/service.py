"""Figures read from the database at each scrape (the same for every worker)."""

import asyncio

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.modules.payouts.models import Payout, PayoutStatus

log = structlog.get_logger()

# A scrape answers even while the database is away: without these figures then.
READ_TIMEOUT_SECONDS = 1.0


class _Figures(Collector):
    def __init__(self, payouts: dict[str, int]) -> None:
        self._payouts = payouts

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily("iwm_payouts", "Payout requests by status", labels=["status"])
        for status in PayoutStatus:
            family.add_metric([status.value], self._payouts.get(status.value, 0))
        return [family]


async def database_figures(
    maker: async_sessionmaker[AsyncSession],
) -> CollectorRegistry | None:
    """Payouts by status, or None when the database does not answer in time."""

    async def read() -> dict[str, int]:
        async with maker() as db:
            rows = await db.execute(select(Payout.status, func.count()).group_by(Payout.status))
            return {str(status): int(n) for status, n in rows}

    try:
        payouts = await asyncio.wait_for(read(), READ_TIMEOUT_SECONDS)
    except Exception as exc:  # the rest of the scrape is still worth having
        log.warning("metrics.database_unavailable", error=type(exc).__name__)
        return None
    registry = CollectorRegistry()
    registry.register(_Figures(payouts))
    return registry
