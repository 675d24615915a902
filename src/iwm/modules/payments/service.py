"""Incoming payments: opened for an owner's object, completed only by a verified webhook,
refunded in two steps (decided in the owner's transaction, then sent to the provider).

Never commits a request's transaction: the request's dependency does. `process_refunds`
(a job) runs its own short transactions around the provider calls.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.events import publish
from iwm.core.upsert import insert
from iwm.modules.payments.errors import PaymentNotFound
from iwm.modules.payments.events import (
    PaymentEvent,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
)
from iwm.modules.payments.models import (
    Payment,
    PaymentPurpose,
    PaymentStatus,
    PaymentWebhookEvent,
)
from iwm.modules.payments.provider import Checkout, PaymentProvider, WebhookEvent

log = structlog.get_logger()

SUCCEEDED = "payment.succeeded"
FAILED = "payment.failed"
REFUNDED = "payment.refunded"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    duplicate: bool
    payment_id: uuid.UUID | None
    status: str | None


def _event(cls: type[PaymentEvent], payment: Payment) -> PaymentEvent:
    return cls(
        payment_id=payment.id,
        purpose=payment.purpose,
        reference_id=payment.reference_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
    )


class PaymentService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider) -> None:
        self._db = session
        self._provider = provider

    async def create(
        self,
        purpose: PaymentPurpose,
        reference_id: uuid.UUID,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        description: str = "",
        expires_at: datetime | None = None,
        *,
        fresh: bool = False,
    ) -> Payment:
        """Opens a payment with the provider. The same idempotency key returns the payment
        already opened for it; `fresh`: the key was made just now (a new order's id), so
        there is none to look for."""
        key = f"{purpose.value}:{idempotency_key}"
        if not fresh:
            known = await self._db.scalar(select(Payment).where(Payment.idempotency_key == key))
            if known is not None:
                return known
        payment = Payment(
            id=uuid.uuid4(),
            provider=self._provider.name,
            idempotency_key=key,
            purpose=purpose.value,
            reference_id=reference_id,
            description=description,
            amount_minor=amount_minor,
            currency=currency,
            status=PaymentStatus.PENDING.value,
            created_at=clock.now(),
            updated_at=clock.now(),
            expires_at=expires_at,
        )
        opened = await self._provider.create(
            Checkout(payment.id, amount_minor, currency, description, key)
        )
        payment.provider_reference = opened.reference
        payment.checkout_url = opened.checkout_url
        self._db.add(payment)
        await self._db.flush()
        return payment

    async def get(self, payment_id: uuid.UUID) -> Payment:
        payment = await self._db.get(Payment, payment_id)
        if payment is None:
            raise PaymentNotFound()
        return payment

    async def handle_webhook(self, event: WebhookEvent) -> WebhookOutcome:
        """Applies a verified provider event once: the event id is recorded in the same
        transaction, so a redelivery (even a concurrent one) changes nothing. The owner's
        handlers of the published event run in this transaction too."""
        # One statement records the event with its payment's id (each round trip to the
        # database is on the way from the payment to the kiosk's poll), not a savepoint
        # around an INSERT: a concurrent delivery of the same event waits for the first
        # one's transaction, then finds its row.
        payment_of_event = (
            select(Payment.id)
            .where(
                Payment.provider == self._provider.name,
                Payment.provider_reference == event.payment_reference,
            )
            .scalar_subquery()
        )
        recorded = (
            await self._db.execute(
                insert(self._db, PaymentWebhookEvent)
                .values(
                    event_id=event.event_id,
                    provider=self._provider.name,
                    type=event.type,
                    payment_id=payment_of_event,
                    received_at=clock.now(),
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(PaymentWebhookEvent.payment_id)
            )
        ).first()
        if recorded is None:
            first = await self._db.scalar(
                select(PaymentWebhookEvent.payment_id).where(
                    PaymentWebhookEvent.event_id == event.event_id
                )
            )
            return WebhookOutcome(True, first, None)
        payment_id = recorded.payment_id
        if payment_id is None:
            log.warning("payment.webhook_unknown_payment", event_type=event.type)
            return WebhookOutcome(False, None, None)
        moved: Payment | None = None
        if event.type == SUCCEEDED:
            moved = await self._move(
                payment_id,
                (PaymentStatus.PENDING, PaymentStatus.FAILED),
                PaymentStatus.SUCCEEDED,
                PaymentSucceeded,
            )
        elif event.type == FAILED:
            moved = await self._move(
                payment_id, (PaymentStatus.PENDING,), PaymentStatus.FAILED, PaymentFailed
            )
        elif event.type == REFUNDED:
            moved = await self._move(
                payment_id,
                (PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_PENDING),
                PaymentStatus.REFUNDED,
                PaymentRefunded,
            )
        # An event that moved nothing (a success after the refund, an unknown type):
        # the answer says where the payment stands.
        payment = moved or await self.get(payment_id)
        return WebhookOutcome(False, payment.id, payment.status)

    async def _move(
        self,
        payment_id: uuid.UUID,
        sources: tuple[PaymentStatus, ...],
        target: PaymentStatus,
        event: type[PaymentEvent],
    ) -> Payment | None:
        """A conditional UPDATE: of concurrent events for one payment, one moves it (and
        gets the moved row, the others None)."""
        now = clock.now()
        values: dict[str, object] = {"status": target.value, "updated_at": now}
        if target is PaymentStatus.SUCCEEDED:
            values["succeeded_at"] = now
        if target is PaymentStatus.REFUNDED:
            values["refunded_at"] = now
        # The moved row comes back in the same statement (no read before or after it);
        # populate_existing overwrites the session's copy of it, if it holds one.
        moved = await self._db.scalar(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_([s.value for s in sources]))
            .values(**values)
            .returning(Payment)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if moved is None:
            return None
        await publish(self._db, _event(event, moved))
        return moved

    @staticmethod
    async def by_ids(
        session: AsyncSession, payment_ids: Iterable[uuid.UUID | None]
    ) -> dict[uuid.UUID, Payment]:
        """The payments of a page of orders or investments (those without one skipped), by
        id, in one statement."""
        wanted = {p for p in payment_ids if p is not None}
        if not wanted:
            return {}
        found = await session.scalars(select(Payment).where(Payment.id.in_(wanted)))
        return {p.id: p for p in found}

    @staticmethod
    async def lock(session: AsyncSession, payment_id: uuid.UUID) -> None:
        """The payment row's lock. A webhook locks the payment before its owner's row: an
        owner that will close or refund its payment takes this lock before its own row,
        so the two wait for each other instead of deadlocking."""
        await session.execute(select(Payment.id).where(Payment.id == payment_id).with_for_update())

    @staticmethod
    async def close(session: AsyncSession, payment_id: uuid.UUID) -> None:
        """The owner gave up on an open payment (an order cancelled before it was paid): its
        page takes no money from now on, as after its expiry, and says it was cancelled."""
        now = clock.now()
        await session.execute(
            update(Payment)
            .where(
                Payment.id == payment_id,
                Payment.status.in_([PaymentStatus.PENDING.value, PaymentStatus.FAILED.value]),
                (Payment.expires_at.is_(None)) | (Payment.expires_at > now),
            )
            .values(expires_at=now, closed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    async def request_refund(session: AsyncSession, payment_id: uuid.UUID) -> bool:
        """Decides the refund in the caller's transaction (succeeded -> refund_pending);
        `process_refunds` then asks the provider. False when not succeeded."""
        moved = await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status == PaymentStatus.SUCCEEDED.value)
            .values(status=PaymentStatus.REFUND_PENDING.value, updated_at=clock.now())
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        )
        return moved.scalar_one_or_none() is not None

    @staticmethod
    async def process_refunds(
        maker: async_sessionmaker[AsyncSession], provider: PaymentProvider, limit: int = 100
    ) -> int:
        """Sends the decided refunds to the provider (idempotency key per payment, so a
        retry after a crash never refunds twice); the number completed."""
        async with maker() as db:
            due = list(
                (
                    await db.execute(
                        select(Payment)
                        .where(Payment.status == PaymentStatus.REFUND_PENDING.value)
                        .order_by(Payment.updated_at)
                        .limit(limit)
                    )
                ).scalars()
            )
        done = 0
        for payment in due:
            assert payment.provider_reference is not None  # noqa: S101
            refund = await provider.refund(
                payment.provider_reference,
                payment.amount_minor,
                payment.currency,
                f"refund:{payment.id}",
            )
            if not refund.completed:
                continue  # the provider's payment.refunded webhook completes it
            async with maker.begin() as db:
                service = PaymentService(db, provider)
                row = await db.get_one(Payment, payment.id)
                row.refund_reference = refund.reference
                await db.flush()  # before the move's UPDATE, which returns the row
                if await service._move(
                    row.id, (PaymentStatus.REFUND_PENDING,), PaymentStatus.REFUNDED, PaymentRefunded
                ):
                    done += 1
        return done
