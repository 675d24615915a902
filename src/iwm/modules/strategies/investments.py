"""Members' investments: a participation waiting for its payment, the payment's webhook
taking the strategy's capacity and making it ACTIVE (the commission engine runs), a refund
when the strategy has no room left by then, and expiry of unpaid investments.

Never commits: the request's (or the job's, or the webhook's) transaction does. Lock
order: the member's user row (a request), the participation row, the strategy row (the
capacity's conditional UPDATE), then the upline partners (the commission engine).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.db import settings_of
from iwm.core.events import Subscriptions, handle
from iwm.core.listing import Listing, equals
from iwm.core.money import from_minor
from iwm.core.principal import Principal
from iwm.modules.audit.service import AuditService
from iwm.modules.payments.events import PaymentSucceeded
from iwm.modules.payments.models import Payment, PaymentPurpose
from iwm.modules.payments.provider import PaymentProvider
from iwm.modules.payments.service import PaymentService
from iwm.modules.strategies.errors import (
    AmountOutOfRange,
    ParticipationNotFound,
    StrategyFull,
    StrategyNotFound,
)
from iwm.modules.strategies.models import (
    InvestmentReturn,
    Participation,
    ParticipationStatus,
    Strategy,
    StrategyStatus,
)
from iwm.modules.strategies.service import ParticipationService
from iwm.modules.users.service import UserService

log = structlog.get_logger()
P = ParticipationStatus


@dataclass(frozen=True, slots=True)
class InvestmentView:
    """A participation with what its member sees: the strategy's name, the payment and
    (for one investment) its returns, oldest month first."""

    participation: Participation
    strategy_name: str
    currency: str
    payment: Payment | None
    returns: list[InvestmentReturn] | None = None


MY_INVESTMENTS = Listing(
    rows=select(Participation),
    key=Participation.id,
    base=Participation,
    filters=[equals("user_id", Participation.user_id), equals("status", Participation.status)],
    sorts={"createdAt": Participation.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)


class InvestmentService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._audit = AuditService(session)

    async def lock_member(self, user_id: uuid.UUID) -> None:
        """The member's row lock: a retry with the same Idempotency-Key waits for the first
        attempt to commit and then replays its answer."""
        await UserService(self._db).lock_only(user_id)

    async def request(
        self,
        member: Principal,
        strategy_id: uuid.UUID,
        amount_minor: int,
        provider: PaymentProvider,
    ) -> InvestmentView:
        """A PENDING_PAYMENT participation and its payment. STRATEGY_NOT_FOUND unless the
        strategy is ACTIVE, AMOUNT_OUT_OF_RANGE outside its minimum and maximum,
        STRATEGY_FULL when the amount does not fit its capacity now (the capacity itself is
        taken when the payment arrives)."""
        strategy = await self._db.get(Strategy, strategy_id)
        if strategy is None or strategy.status != StrategyStatus.ACTIVE:
            raise StrategyNotFound()
        high = strategy.max_amount_minor
        if amount_minor < strategy.min_amount_minor or (high is not None and amount_minor > high):
            bounds = f"from {from_minor(strategy.min_amount_minor)}"
            if high is not None:
                bounds += f" to {from_minor(high)}"
            raise AmountOutOfRange(details={"amount": [f"{bounds} {strategy.currency}"]})
        total = strategy.total_capacity_minor
        if total is not None and strategy.used_capacity_minor + amount_minor > total:
            raise StrategyFull(
                details={
                    "amount": [
                        f"{from_minor(max(0, total - strategy.used_capacity_minor))}"
                        f" {strategy.currency} left"
                    ]
                }
            )
        now = clock.now()
        row = Participation(
            id=uuid.uuid4(),
            strategy_id=strategy.id,
            user_id=member.user_id,
            amount_minor=amount_minor,
            status=P.PENDING_PAYMENT,
            created_at=now,
            payment_expires_at=now + timedelta(minutes=self._settings.order_payment_ttl_minutes),
        )
        payment = await PaymentService(self._db, provider).create(
            PaymentPurpose.INVESTMENT,
            row.id,
            amount_minor,
            strategy.currency,
            idempotency_key=str(row.id),
            description=f"Investment in {strategy.name}",
            expires_at=row.payment_expires_at,
        )
        row.payment_id = payment.id
        self._db.add(row)
        await self._db.flush()
        self._audit.record(
            member,
            "INVESTMENT_REQUESTED",
            "participation",
            row.id,
            new={
                "strategyId": str(strategy.id),
                "amount": str(from_minor(amount_minor)),
                "currency": strategy.currency,
                "paymentId": str(payment.id),
            },
        )
        return InvestmentView(row, strategy.name, strategy.currency, payment, [])

    async def _views(
        self, rows: list[Participation], with_returns: bool = False
    ) -> list[InvestmentView]:
        strategy_ids = {r.strategy_id for r in rows}
        strategies: dict[uuid.UUID, Strategy] = {}
        if strategy_ids:
            found = await self._db.scalars(select(Strategy).where(Strategy.id.in_(strategy_ids)))
            strategies = {s.id: s for s in found}
        payments = await PaymentService.by_ids(self._db, (r.payment_id for r in rows))
        returns: dict[uuid.UUID, list[InvestmentReturn]] = {r.id: [] for r in rows}
        if with_returns and rows:
            entries = await self._db.scalars(
                select(InvestmentReturn)
                .where(InvestmentReturn.participation_id.in_([r.id for r in rows]))
                .order_by(InvestmentReturn.period)
            )
            for entry in entries:
                returns[entry.participation_id].append(entry)
        return [
            InvestmentView(
                r,
                strategies[r.strategy_id].name,
                strategies[r.strategy_id].currency,
                payments.get(r.payment_id) if r.payment_id is not None else None,
                returns[r.id] if with_returns else None,
            )
            for r in rows
        ]

    async def mine(
        self, user_id: uuid.UUID, status: ParticipationStatus | None, page: int, page_size: int
    ) -> tuple[list[InvestmentView], int]:
        """The member's investments, newest first, with their returns' totals."""
        found = await MY_INVESTMENTS.page(
            self._db, {"user_id": user_id, "status": status}, page=page, page_size=page_size
        )
        return await self._views([r.Participation for r in found.rows]), found.total

    async def my_investment(
        self, user_id: uuid.UUID, participation_id: uuid.UUID
    ) -> InvestmentView:
        """With every month's return; PARTICIPATION_NOT_FOUND for another member's."""
        row = await self._db.scalar(
            select(Participation).where(
                Participation.id == participation_id, Participation.user_id == user_id
            )
        )
        if row is None:
            raise ParticipationNotFound()
        return (await self._views([row], with_returns=True))[0]

    # -- the payment's event (in the webhook's transaction) ----------------------------

    async def payment_succeeded(self, event: PaymentSucceeded) -> None:
        """PENDING_PAYMENT -> ACTIVE when the strategy's capacity still takes the amount
        (one conditional UPDATE, so of concurrent payments only those that fit win); else
        REFUNDED and the payment goes back. Paid after expiry: refunded."""
        row = await self._db.scalar(
            select(Participation).where(Participation.id == event.reference_id).with_for_update()
        )
        if row is None:  # not an investment's payment (participations are never deleted)
            log.warning(
                "participation.payment_without_participation", payment_id=str(event.payment_id)
            )
            return
        if row.status != P.PENDING_PAYMENT or row.payment_id != event.payment_id:
            await PaymentService.request_refund(self._db, event.payment_id)
            return
        participations = ParticipationService(self._db, self._settings)
        strategy = await self._db.get_one(Strategy, row.strategy_id)
        if await participations.take_capacity(row.strategy_id, row.amount_minor):
            await participations.activate(row, strategy)
            action, new = "INVESTMENT_STARTED", {"status": P.ACTIVE.value}
        else:
            row.status = P.REFUNDED
            row.closed_at = clock.now()
            await PaymentService.request_refund(self._db, event.payment_id)
            reason = "full" if strategy.status == StrategyStatus.ACTIVE else "not active"
            action, new = "INVESTMENT_REFUNDED", {"status": P.REFUNDED.value, "reason": reason}
        self._audit.record_by(
            None,
            action,
            "participation",
            row.id,
            previous={"status": P.PENDING_PAYMENT.value},
            new={**new, "paymentId": str(event.payment_id)},
        )


async def _on_paid(session: AsyncSession, event: PaymentSucceeded) -> None:
    if event.purpose == PaymentPurpose.INVESTMENT:
        await InvestmentService(session, settings_of(session)).payment_succeeded(event)


def _subscribe(bus: Subscriptions) -> None:
    bus.on(PaymentSucceeded, _on_paid)


def install() -> None:
    """Registers the investments' handler of payment events (idempotent)."""
    handle("strategies", _subscribe)
