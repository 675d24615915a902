"""Kiosk rounds paid online: the kiosk opens a session, the customer pays through the
payment provider, the payment's webhook makes the session paid, the kiosk starts the round.

Never commits: the request's (or the job's) transaction does. Every change of a session
wakes the kiosk's long poll once committed (`core.wakeups`), in whichever process it waits.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.db import delete_in_batches, settings_of
from iwm.core.events import Subscriptions, handle
from iwm.core.money import from_minor
from iwm.core.wakeups import wake_after_commit
from iwm.modules.activity.models import ActivityEvent
from iwm.modules.activity.service import ActivityService
from iwm.modules.kiosks.errors import KioskInactive
from iwm.modules.kiosks.models import CashEntryType, Kiosk, KioskCashEntry, KioskStatus
from iwm.modules.kiosks.schemas import KioskLike
from iwm.modules.kiosks.service import KioskService
from iwm.modules.payments.events import PaymentRefunded, PaymentSucceeded
from iwm.modules.payments.models import PaymentPurpose
from iwm.modules.payments.provider import PaymentProvider
from iwm.modules.payments.service import PaymentService
from iwm.modules.rounds.errors import (
    PriceNotSet,
    SessionAlreadyStarted,
    SessionExpired,
    SessionNotFound,
    SessionNotPaid,
)
from iwm.modules.rounds.models import KioskSession, SessionStatus
from iwm.modules.rounds.revenue import revenue

KIOSK = "kiosk"
PAYMENT = "payment"


@dataclass(frozen=True, slots=True)
class KioskToday:
    online_rounds: int
    online_amount: Decimal
    cash_rounds: int
    cash_amount: Decimal
    currency: str | None


SYSTEM = "system"


def wake_key(session_id: uuid.UUID) -> str:
    return f"kiosk-session:{session_id}"


def status_now(row: KioskSession) -> SessionStatus:
    """What the kiosk may do now, whether a job wrote it yet or not: a pending session past
    its expiry is expired, and so is a paid one past its start window (it can no longer
    start; the refund job will make it refunded)."""
    now = clock.now()
    if row.status == SessionStatus.PENDING and now >= row.expires_at:
        return SessionStatus.EXPIRED
    due = row.refund_due_at
    if row.status == SessionStatus.PAID and due is not None and now >= due:
        return SessionStatus.EXPIRED
    return SessionStatus(row.status)


class RoundService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._activity = ActivityService(session)

    async def open(self, kiosk: Kiosk, provider: PaymentProvider) -> KioskSession:
        """A pending session at the kiosk's price, with its payment opened. 409
        PRICE_NOT_SET without a price, KIOSK_INACTIVE unless the kiosk is active."""
        if kiosk.price_minor is None or kiosk.currency is None:
            raise PriceNotSet()
        if kiosk.status != KioskStatus.ACTIVE:
            # The kiosk's own state, so that its screen can say why it sells nothing.
            state = "in error" if kiosk.status == KioskStatus.ERROR else "switched off"
            raise KioskInactive(f"The kiosk is {state}: only an active kiosk sells rounds")
        now = clock.now()
        row = KioskSession(
            id=uuid.uuid4(),
            kiosk_id=kiosk.id,
            amount_minor=kiosk.price_minor,
            currency=kiosk.currency,
            status=SessionStatus.PENDING.value,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.kiosk_session_ttl_seconds),
        )
        payment = await PaymentService(self._db, provider).create(
            PaymentPurpose.KIOSK_ROUND,
            row.id,
            row.amount_minor,
            row.currency,
            idempotency_key=str(row.id),
            description=f"One round at {kiosk.name}",
            expires_at=row.expires_at,
        )
        row.payment_id = payment.id
        row.payment_url = payment.checkout_url
        self._db.add(row)
        await self._db.flush()
        return row

    async def get(self, kiosk_id: uuid.UUID, session_id: uuid.UUID) -> KioskSession:
        """404 SESSION_NOT_FOUND for a missing session and another kiosk's alike."""
        row = await self._db.scalar(
            select(KioskSession).where(
                KioskSession.id == session_id, KioskSession.kiosk_id == kiosk_id
            )
        )
        if row is None:
            raise SessionNotFound()
        return row

    async def get_many_with_keys(
        self, session_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[KioskSession, str]]:
        """The sessions (those that exist) with their kiosk's device key hash, in one
        statement: a burst of long polls reads its sessions and checks its keys together."""
        rows = await self._db.execute(
            select(KioskSession, Kiosk.device_key_hash)
            .join(Kiosk, Kiosk.id == KioskSession.kiosk_id)
            .where(KioskSession.id.in_(session_ids))
        )
        return {row.id: (row, key_hash) for row, key_hash in rows}

    async def start(self, kiosk: Kiosk, session_id: uuid.UUID) -> KioskSession:
        """Once, while paid and within the start window: one conditional UPDATE, so of
        concurrent starts (or a start racing the refund job) exactly one wins."""
        now = clock.now()
        started = await self._db.execute(
            update(KioskSession)
            .where(
                KioskSession.id == session_id,
                KioskSession.kiosk_id == kiosk.id,
                KioskSession.status == SessionStatus.PAID.value,
                KioskSession.refund_due_at > now,
            )
            .values(status=SessionStatus.STARTED.value, started_at=now, refund_due_at=None)
            .returning(KioskSession.id)
            .execution_options(synchronize_session=False)
        )
        if started.scalar_one_or_none() is None:
            row = await self.get(kiosk.id, session_id)
            status = status_now(row)
            if status is SessionStatus.STARTED:
                raise SessionAlreadyStarted()
            if status is SessionStatus.PENDING:
                raise SessionNotPaid()
            raise SessionExpired()  # expired, refunded, or paid past the start window
        row = await self.get(kiosk.id, session_id)
        await self._db.refresh(row)
        self._activity.record(
            ActivityEvent.KIOSK_ROUND_STARTED,
            actor_type=KIOSK,
            actor_id=kiosk.id,
            kiosk_id=kiosk.id,
            sessionId=str(row.id),
            amount=str(from_minor(row.amount_minor)),
            currency=row.currency,
        )
        wake_after_commit(self._db, wake_key(row.id))
        return row

    async def today(self, kiosk: KioskLike) -> KioskToday:
        """Today's online rounds and amount (the shop's day) and the cash balance: what the
        dashboard's kiosk card shows."""
        day = await revenue(self._db, kiosk, None, None, clock.now(), default_days=1)
        cash = await KioskService(self._db, self._settings).cash_balance(kiosk.id)
        return KioskToday(
            online_rounds=day.online.rounds,
            online_amount=day.online.amount,
            cash_rounds=cash.rounds,
            cash_amount=from_minor(cash.amount_minor),
            currency=kiosk.currency,
        )

    # -- the payment's events (in the webhook's transaction) ---------------------------

    async def payment_succeeded(self, event: PaymentSucceeded) -> None:
        """Paid in time: the session is paid and must be started within the start window.
        Paid after the session expired (the kiosk gave up): the money goes back."""
        row = await self._db.get(KioskSession, event.reference_id, with_for_update=True)
        now = clock.now()
        if row is None:  # removed by the retention: nothing to sell any more
            await PaymentService.request_refund(self._db, event.payment_id)
            return
        if row.status == SessionStatus.PENDING and now < row.expires_at:
            row.status = SessionStatus.PAID.value
            row.paid_at = now
            row.refund_due_at = now + timedelta(seconds=self._settings.kiosk_start_window_seconds)
            self._activity.record(
                ActivityEvent.KIOSK_SESSION_PAID,
                actor_type=PAYMENT,
                actor_id=event.payment_id,
                kiosk_id=row.kiosk_id,
                sessionId=str(row.id),
                amount=str(from_minor(event.amount_minor)),
                currency=event.currency,
            )
        else:
            if row.paid_at is None:  # the money did arrive: the record says when
                row.paid_at = now
            await self._refund(row, reason="paid after expiry")
        wake_after_commit(self._db, wake_key(row.id))

    async def payment_refunded(self, event: PaymentRefunded) -> None:
        """A refund made at the provider (its dashboard, a dispute): the round is off."""
        row = await self._db.get(KioskSession, event.reference_id, with_for_update=True)
        if row is None or row.status in (SessionStatus.REFUNDED, SessionStatus.STARTED):
            return
        row.status = SessionStatus.REFUNDED.value
        row.refunded_at = clock.now()
        row.refund_due_at = None
        wake_after_commit(self._db, wake_key(row.id))

    async def _refund(self, row: KioskSession, reason: str) -> None:
        row.status = SessionStatus.REFUNDED.value
        row.refunded_at = clock.now()
        row.refund_due_at = None
        if row.payment_id is not None:
            await PaymentService.request_refund(self._db, row.payment_id)
        self._activity.record(
            ActivityEvent.KIOSK_SESSION_REFUNDED,
            actor_type=SYSTEM,
            actor_id=None,
            kiosk_id=row.kiosk_id,
            sessionId=str(row.id),
            reason=reason,
        )
        wake_after_commit(self._db, wake_key(row.id))

    # -- jobs ----------------------------------------------------------------------------

    @staticmethod
    async def refund_unstarted(
        maker: async_sessionmaker[AsyncSession],
        settings: Settings,
        provider: PaymentProvider,
        batch: int = 200,
    ) -> int:
        """Refunds the sessions paid but not started within the start window (the kiosk
        went away, the customer left), then sends every decided refund to the provider.
        Safe in every process at once: rows are claimed with SKIP LOCKED."""
        refunded = 0
        while True:
            async with maker.begin() as db:
                rows = list(
                    (
                        await db.execute(
                            select(KioskSession)
                            .where(
                                KioskSession.status == SessionStatus.PAID.value,
                                KioskSession.refund_due_at <= clock.now(),
                            )
                            .order_by(KioskSession.refund_due_at)
                            .limit(batch)
                            .with_for_update(skip_locked=True)
                        )
                    ).scalars()
                )
                service = RoundService(db, settings)
                for row in rows:
                    await service._refund(row, reason="not started within the start window")
            refunded += len(rows)
            if len(rows) < batch:
                break
        await PaymentService.process_refunds(maker, provider)
        return refunded


async def took_money(db: AsyncSession, kiosk_id: uuid.UUID) -> bool:
    """Whether the kiosk has sold a round online or granted one for cash."""
    paid = select(KioskSession.id).where(
        KioskSession.kiosk_id == kiosk_id, KioskSession.paid_at.is_not(None)
    )
    cash = select(KioskCashEntry.id).where(
        KioskCashEntry.kiosk_id == kiosk_id,
        KioskCashEntry.entry_type == CashEntryType.FREE_ROUND.value,
        KioskCashEntry.amount_minor > 0,
    )
    return bool(await db.scalar(select(paid.exists() | cash.exists())))


def _retired(paid_cutoff: datetime, unpaid_cutoff: datetime) -> ColumnElement[bool]:
    """Sessions past retention: paid ones (kept as long as orders) and never paid ones."""
    return or_(
        and_(KioskSession.paid_at.is_not(None), KioskSession.created_at < paid_cutoff),
        and_(KioskSession.paid_at.is_(None), KioskSession.created_at < unpaid_cutoff),
    )


async def count_retired(
    maker: async_sessionmaker[AsyncSession], paid_cutoff: datetime, unpaid_cutoff: datetime
) -> int:
    async with maker() as db:
        stmt = select(func.count()).select_from(KioskSession)
        return int(await db.scalar(stmt.where(_retired(paid_cutoff, unpaid_cutoff))) or 0)


async def purge_retired(
    maker: async_sessionmaker[AsyncSession],
    paid_cutoff: datetime,
    unpaid_cutoff: datetime,
    batch_size: int,
) -> int:
    """Deletes the sessions past retention in batches; their payments stay (money records)."""
    return await delete_in_batches(
        maker, KioskSession, _retired(paid_cutoff, unpaid_cutoff), batch_size
    )


async def _on_paid(session: AsyncSession, event: PaymentSucceeded) -> None:
    if event.purpose == PaymentPurpose.KIOSK_ROUND:
        await RoundService(session, settings_of(session)).payment_succeeded(event)


async def _on_refunded(session: AsyncSession, event: PaymentRefunded) -> None:
    if event.purpose == PaymentPurpose.KIOSK_ROUND:
        await RoundService(session, settings_of(session)).payment_refunded(event)


def _subscribe(bus: Subscriptions) -> None:
    bus.on(PaymentSucceeded, _on_paid)
    bus.on(PaymentRefunded, _on_refunded)


def install() -> None:
    """Registers the kiosk sessions' handlers of payment events (idempotent)."""
    handle("rounds", _subscribe)
