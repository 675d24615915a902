"""Posting to the partner balance ledger.

Balances (SPEC §6, net amounts): pending = PENDING + HELD commissions; totalEarned =
APPROVED + PAID commissions; available = totalEarned - payouts that still hold their
amount (all but CANCELLED and REJECTED-with-return); totalWithdrawn = COMPLETED payouts.
Every state change posts the difference between the balance shares of the old and the new
state, and adds it to the partner's balance columns with one atomic UPDATE in the same
transaction, so columns == sums over the ledger at every commit.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.network.models import NetworkPartner


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
        entry = LedgerEntry(
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
        self._db.add(entry)
        if not delta.is_zero:
            await self._db.execute(
                update(NetworkPartner)
                .where(NetworkPartner.id == partner_id)
                .values(
                    available_minor=NetworkPartner.available_minor + delta.available,
                    pending_minor=NetworkPartner.pending_minor + delta.pending,
                    total_earned_minor=NetworkPartner.total_earned_minor + delta.earned,
                    total_withdrawn_minor=NetworkPartner.total_withdrawn_minor + delta.withdrawn,
                    career_points_total=NetworkPartner.career_points_total + delta.career_points,
                )
                .execution_options(synchronize_session=False)
            )
        return entry

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
