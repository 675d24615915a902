"""Posting to the partner balance ledger.

Balances (SPEC §6, net amounts): pending = PENDING + HELD commissions; totalEarned =
APPROVED + PAID commissions; available = totalEarned - payouts that still hold their
amount (all but CANCELLED and REJECTED-with-return); totalWithdrawn = COMPLETED payouts.
Every state change posts the difference between the balance shares of the old and the new
state and publishes `LedgerPosted`: the balances projection (`projections.py`) adds it to
the partner's balance columns in the same transaction, so columns == sums over the ledger
at every commit.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.events import publish_all
from iwm.modules.ledger.events import LedgerPosted
from iwm.modules.ledger.models import LedgerEntry


@dataclass(frozen=True, slots=True)
class Shares:
    available: int = 0
    pending: int = 0
    earned: int = 0
    withdrawn: int = 0
    career_points: int = 0

    def __sub__(self, other: "Shares") -> "Shares":
        return Shares(
            self.available - other.available,
            self.pending - other.pending,
            self.earned - other.earned,
            self.withdrawn - other.withdrawn,
            self.career_points - other.career_points,
        )

    @property
    def is_zero(self) -> bool:
        return not (
            self.available or self.pending or self.earned or self.withdrawn or self.career_points
        )


class LedgerService:
    """Never commits. Callers lock the partner row first (`NetworkService.lock_partner`): the
    fixed lock order is partner -> payout -> commissions."""

    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    @property
    def session(self) -> AsyncSession:
        """The transaction the entries are posted in (their events are published there)."""
        return self._db

    async def post(
        self,
        partner_id: uuid.UUID,
        kind: str,
        delta: Shares,
        *,
        commission_id: uuid.UUID | None = None,
        payout_id: uuid.UUID | None = None,
        admin_id: uuid.UUID | None = None,
    ) -> LedgerEntry:
        entry = self.entry(
            partner_id,
            kind,
            delta,
            commission_id=commission_id,
            payout_id=payout_id,
            admin_id=admin_id,
        )
        await self.post_all([entry])
        return entry

    @staticmethod
    def entry(
        partner_id: uuid.UUID,
        kind: str,
        delta: Shares,
        *,
        commission_id: uuid.UUID | None = None,
        payout_id: uuid.UUID | None = None,
        admin_id: uuid.UUID | None = None,
    ) -> LedgerEntry:
        """An entry not posted yet (`post_all` posts several at once)."""
        return LedgerEntry(
            partner_id=partner_id,
            kind=kind,
            commission_id=commission_id,
            payout_id=payout_id,
            available_delta=delta.available,
            pending_delta=delta.pending,
            earned_delta=delta.earned,
            withdrawn_delta=delta.withdrawn,
            career_points_delta=delta.career_points,
            admin_id=admin_id,
        )

    async def post_all(self, entries: Sequence[LedgerEntry]) -> None:
        """Posts `entries` together: their rows are inserted in one statement at the next
        flush, and the balances move in one statement for all their partners."""
        self._db.add_all(entries)
        await publish_all(
            self._db,
            [
                LedgerPosted(
                    e.partner_id,
                    e.available_delta,
                    e.pending_delta,
                    e.earned_delta,
                    e.withdrawn_delta,
                    e.career_points_delta,
                )
                for e in entries
                if e.available_delta
                or e.pending_delta
                or e.earned_delta
                or e.withdrawn_delta
                or e.career_points_delta
            ],
        )

    async def sums(self, partner_id: uuid.UUID) -> Shares:
        """The partner's balances as sums over the ledger."""
        row = (
            await self._db.execute(
                select(
                    func.coalesce(func.sum(LedgerEntry.available_delta), 0),
                    func.coalesce(func.sum(LedgerEntry.pending_delta), 0),
                    func.coalesce(func.sum(LedgerEntry.earned_delta), 0),
                    func.coalesce(func.sum(LedgerEntry.withdrawn_delta), 0),
                    func.coalesce(func.sum(LedgerEntry.career_points_delta), 0),
                ).where(LedgerEntry.partner_id == partner_id)
            )
        ).one()
        return Shares(*(int(v) for v in row))
