"""Payout requests: a request reserves available balance at once; admins approve, reject
(optionally returning the funds) and process them through the payment provider.

Lock order everywhere: partner row, then payout row, then commissions (see ledger).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.events import publish
from iwm.core.listing import Listing, at_least, below, equals
from iwm.core.money import from_minor, to_minor
from iwm.core.principal import Principal
from iwm.core.progress import OnProgress, silent
from iwm.core.resources import Resources
from iwm.modules.audit.service import AuditService
from iwm.modules.commissions.engine import CommissionEngine
from iwm.modules.commissions.errors import SeparationOfDuties
from iwm.modules.kyc.service import kyc_approved
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.ledger.service import LedgerService, Shares
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from iwm.modules.payouts import events as ev
from iwm.modules.payouts.errors import (
    BelowMinimum,
    InsufficientBalance,
    KycRequired,
    NotApproved,
    NotPending,
    NotRejectable,
    PaymentFailed,
    PayoutNotCovered,
    PayoutNotFound,
    ProviderDeclined,
)
from iwm.modules.payouts.models import Payout, PayoutMethod, PayoutStatus
from iwm.modules.payouts.provider import (
    PaymentOrder,
    PaymentProvider,
    PaymentResult,
    make_provider,
)
from iwm.modules.users.models import User

P = PayoutStatus


def payout_holds_funds(status: str, funds_returned: bool | None) -> bool:
    if status == PayoutStatus.CANCELLED:
        return False
    return not (status == PayoutStatus.REJECTED and funds_returned)


def payout_shares(status: str, amount_minor: int, funds_returned: bool | None) -> Shares:
    """What a payout in `status` takes from (or adds to) its partner's balances."""
    held = amount_minor if payout_holds_funds(status, funds_returned) else 0
    withdrawn = amount_minor if status == PayoutStatus.COMPLETED else 0
    return Shares(available=-held, withdrawn=withdrawn)


_EVENTS: dict[str, type[ev.PayoutEvent]] = {
    "PAYOUT_REQUESTED": ev.PayoutReserved,
    "PAYOUT_APPROVED": ev.PayoutApproved,
    "PAYOUT_PROCESSING": ev.PayoutProcessing,
    "PAYOUT_SENT": ev.PayoutSent,
    "PAYOUT_COMPLETED": ev.PayoutCompleted,
    "PAYOUT_FAILED": ev.PayoutFailed,
    "PAYOUT_CANCELLED": ev.PayoutCancelled,
}


async def payout_moved(
    ledger: LedgerService, row: Payout, kind: str, before: Shares, admin_id: uuid.UUID | None = None
) -> LedgerEntry:
    """Posts the difference between the shares the payout had (`before`) and has now, and
    publishes the step (`kind`) as its event."""
    after = payout_shares(row.status, row.amount_minor, row.funds_returned)
    entry = await ledger.post(
        row.partner_id, kind, after - before, payout_id=row.id, admin_id=admin_id
    )
    event: ev.PayoutEvent
    if kind == "PAYOUT_REJECTED":
        event = ev.PayoutRejected(
            payout_id=row.id,
            partner_id=row.partner_id,
            amount_minor=row.amount_minor,
            admin_id=admin_id,
            funds_returned=bool(row.funds_returned),
        )
    else:
        event = _EVENTS[kind](
            payout_id=row.id,
            partner_id=row.partner_id,
            amount_minor=row.amount_minor,
            admin_id=admin_id,
        )
    await publish(ledger.session, event)
    return entry


BLOCKED_NOT_COVERED = "INSUFFICIENT_BALANCE"


def blocked_reason(status: str, partner_available_minor: int) -> str | None:
    """Why an open payout cannot move on: its partner's available balance is negative (a
    clawback took back money it had reserved), so approving and paying wait."""
    if status in (PayoutStatus.PENDING, PayoutStatus.APPROVED) and partner_available_minor < 0:
        return BLOCKED_NOT_COVERED
    return None


def check_covered(partner: NetworkPartner) -> None:
    """PayoutNotCovered (400 INSUFFICIENT_BALANCE) while the partner's available balance is
    negative. The payout's own amount is already reserved (taken off `available`), so a
    balance of zero or more means every reserved payout is covered by earnings."""
    if partner.available_minor < 0:
        raise PayoutNotCovered(details={"available": [str(from_minor(partner.available_minor))]})


def mask(details: str) -> str:
    """Only the last four characters of an account number stay visible."""
    tail = details.strip()[-4:]
    return f"****{tail}"


@dataclass(frozen=True, slots=True)
class PayoutFilters:
    status: PayoutStatus | None = None
    partner_id: uuid.UUID | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    min_amount_minor: int | None = None


@dataclass(frozen=True, slots=True)
class PayoutSummary:
    pending_count: int
    pending_minor: int
    processing_count: int
    processing_minor: int


def _audit_values(row: Payout) -> dict[str, Any]:
    return {
        "status": str(row.status),
        "amount": str(from_minor(row.amount_minor)),
        "fundsReturned": row.funds_returned,
        "externalReference": row.external_reference,
    }


class PayoutService:
    """Never commits (except `process`, which owns its transactions: see there)."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._ledger = LedgerService(session)
        self._network = NetworkService(session, settings)
        self._audit = AuditService(session)

    async def request(
        self,
        partner_id: uuid.UUID,
        amount_minor: int,
        method_type: PayoutMethod = PayoutMethod.BANK_TRANSFER,
        account: str = "0000000000",
        *,
        actor: uuid.UUID | None = None,
        ip: str | None = None,
    ) -> Payout:
        """A partner's request: reserves the amount from `available` at once, under the
        partner's lock, with its ledger entry and audit record (by `actor`, the member).
        PartnerNotFound, BelowMinimum, InsufficientBalance."""
        minimum = self._settings.payout_min_amount
        if amount_minor < to_minor(minimum):
            raise BelowMinimum(details={"amount": [f"at least {minimum}"]})
        partner = await self._network.lock_partner(partner_id)
        if partner is None:
            raise PartnerNotFound()
        if partner.available_minor < amount_minor:
            raise InsufficientBalance(
                details={"available": [str(from_minor(partner.available_minor))]}
            )
        payout_id = uuid.uuid4()
        row = Payout(
            id=payout_id,
            partner_id=partner_id,
            amount_minor=amount_minor,
            currency=self._settings.currency,
            method_type=method_type,
            masked_details=mask(account),
            status=P.PENDING,
            idempotency_key=f"payout-{payout_id}",
        )
        self._db.add(row)
        await self._db.flush()
        await payout_moved(self._ledger, row, "PAYOUT_REQUESTED", payout_shares("", 0, None))
        self._audit.record_by(
            actor,
            "PAYOUT_REQUESTED",
            "payout",
            row.id,
            None,
            {
                **_audit_values(row),
                "method": method_type.value,
                "maskedDetails": row.masked_details,
            },
            ip=ip,
        )
        return row

    async def cancel(
        self, payout_id: uuid.UUID, *, actor: uuid.UUID | None = None, ip: str | None = None
    ) -> Payout:
        """The partner withdraws a PENDING request: the reserve returns (NotPending)."""
        row = await self._lock(payout_id)
        if row.status != P.PENDING:
            raise NotPending(details={"status": [str(row.status)]})
        before_values = _audit_values(row)
        before = payout_shares(row.status, row.amount_minor, row.funds_returned)
        row.status = P.CANCELLED
        row.funds_returned = True  # the whole reserve is available again
        row.updated_at = clock.now()
        await payout_moved(self._ledger, row, "PAYOUT_CANCELLED", before)
        self._audit.record_by(
            actor, "PAYOUT_CANCELLED", "payout", row.id, before_values, _audit_values(row), ip=ip
        )
        return row

    # -- the member's side ---------------------------------------------------------------

    async def member_partner(self, user_id: uuid.UUID, *, lock: bool = False) -> uuid.UUID:
        """The member's partner id (PartnerNotFound before joining); with `lock`, its row is
        locked first, so that the member's payout requests queue one behind the other."""
        partner_id = await self._network.partner_id_of(user_id)
        if partner_id is None:
            raise PartnerNotFound()
        if lock:
            await self._network.lock_partner(partner_id)
        return partner_id

    async def member_request(
        self,
        member: Principal,
        amount_minor: int,
        method_type: PayoutMethod,
        account: str,
    ) -> Payout:
        """PartnerNotFound, KycRequired (no unexpired APPROVED verification), BelowMinimum,
        InsufficientBalance."""
        partner_id = await self.member_partner(member.user_id)
        if not await kyc_approved(self._db, member.user_id):
            raise KycRequired()
        return await self.request(
            partner_id, amount_minor, method_type, account, actor=member.user_id, ip=member.ip
        )

    async def member_payout(self, user_id: uuid.UUID, payout_id: uuid.UUID) -> Payout:
        """The member's own payout; another member's is PAYOUT_NOT_FOUND."""
        partner_id = await self._network.partner_id_of(user_id)
        row = await self._db.scalar(select(Payout).where(Payout.id == payout_id))
        if row is None or partner_id is None or row.partner_id != partner_id:
            raise PayoutNotFound()
        return row

    async def member_cancel(self, member: Principal, payout_id: uuid.UUID) -> Payout:
        """PayoutNotFound (not his), NotPending."""
        await self.member_payout(member.user_id, payout_id)
        return await self.cancel(payout_id, actor=member.user_id, ip=member.ip)

    async def member_list(
        self, user_id: uuid.UUID, status: PayoutStatus | None, page: int, page_size: int
    ) -> tuple[list[Payout], int]:
        """The member's payouts, newest first. PartnerNotFound before joining."""
        partner_id = await self.member_partner(user_id)
        found = await MEMBER_LISTING.page(
            self._db, {"partner_id": partner_id, "status": status}, page=page, page_size=page_size
        )
        return [r.Payout for r in found.rows], found.total

    async def _lock(self, payout_id: uuid.UUID) -> Payout:
        return (await self._lock_with_partner(payout_id))[0]

    async def _lock_with_partner(self, payout_id: uuid.UUID) -> tuple[Payout, NetworkPartner]:
        partner_id = await self._db.scalar(select(Payout.partner_id).where(Payout.id == payout_id))
        if partner_id is None:
            raise PayoutNotFound()
        partner = await self._network.lock_partner(partner_id)
        assert partner is not None  # noqa: S101 (a payout's partner is never deleted)
        row = await self._db.scalar(
            select(Payout)
            .where(Payout.id == payout_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise PayoutNotFound()
        return row, partner

    async def approve(self, admin: Principal, payout_id: uuid.UUID, note: str | None) -> Payout:
        """PayoutNotFound; NotPending unless PENDING; PayoutNotCovered (400
        INSUFFICIENT_BALANCE) while the partner's available balance is negative."""
        row, partner = await self._lock_with_partner(payout_id)
        if row.status != P.PENDING:
            raise NotPending(details={"status": [str(row.status)]})
        check_covered(partner)
        before_values = _audit_values(row)
        before = payout_shares(row.status, row.amount_minor, row.funds_returned)
        now = clock.now()
        row.status = P.APPROVED
        row.approved_at = now
        row.approved_by = admin.user_id
        row.note = note
        row.updated_at = now
        await payout_moved(self._ledger, row, "PAYOUT_APPROVED", before, admin.user_id)
        self._audit.record(
            admin,
            "PAYOUT_APPROVED",
            "payout",
            row.id,
            before_values,
            {**_audit_values(row), "note": note},
        )
        return row

    async def reject(
        self, admin: Principal, payout_id: uuid.UUID, reason: str, return_to_balance: bool
    ) -> Payout:
        """PayoutNotFound; NotRejectable unless PENDING or APPROVED. With
        `return_to_balance` the reserved amount is available again."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(details={"reason": ["A reason is required"]})
        row = await self._lock(payout_id)
        if row.status not in (P.PENDING, P.APPROVED):
            raise NotRejectable(details={"status": [str(row.status)]})
        before_values = _audit_values(row)
        before = payout_shares(row.status, row.amount_minor, row.funds_returned)
        now = clock.now()
        row.status = P.REJECTED
        row.rejection_reason = reason
        row.funds_returned = return_to_balance
        row.rejected_at = now
        row.rejected_by = admin.user_id
        row.updated_at = now
        await payout_moved(self._ledger, row, "PAYOUT_REJECTED", before, admin.user_id)
        self._audit.record(
            admin,
            "PAYOUT_REJECTED",
            "payout",
            row.id,
            before_values,
            {**_audit_values(row), "reason": reason},
        )
        return row

    @staticmethod
    def _filters(f: PayoutFilters, *, with_status: bool) -> dict[str, Any]:
        return {
            "status": f.status if with_status else None,
            "partner_id": f.partner_id,
            "date_from": f.date_from,
            "date_to": f.date_to,
            "min_amount_minor": f.min_amount_minor,
        }

    async def detail(
        self, payout_id: uuid.UUID
    ) -> tuple[Payout, NetworkPartner, User, User | None]:
        """One payout with its partner, the partner's user and the processing admin."""
        processor = aliased(User)
        row = (
            await self._db.execute(
                select(Payout, NetworkPartner, User, processor)
                .join(NetworkPartner, NetworkPartner.id == Payout.partner_id)
                .join(User, User.id == NetworkPartner.user_id)
                .outerjoin(processor, processor.id == Payout.processed_by)
                .where(Payout.id == payout_id)
            )
        ).first()
        if row is None:
            raise PayoutNotFound()
        return row[0], row[1], row[2], row[3]

    async def list_page(
        self, f: PayoutFilters, page: int, page_size: int
    ) -> tuple[list[tuple[Payout, NetworkPartner, User, User | None]], int, PayoutSummary]:
        """Newest first; the summary counts every filter but `status`."""
        found = await LISTING.page(
            self._db, self._filters(f, with_status=True), page=page, page_size=page_size
        )
        given, params = LISTING.bind(self._filters(f, with_status=False))
        sums = await self._db.execute(
            LISTING.statement("pending_sums", given, _pending_sums), params
        )
        agg = {str(s): (int(n), int(a or 0)) for s, n, a in sums}
        summary = PayoutSummary(
            pending_count=agg.get(P.PENDING, (0, 0))[0],
            pending_minor=agg.get(P.PENDING, (0, 0))[1],
            processing_count=agg.get(P.PROCESSING, (0, 0))[0],
            processing_minor=agg.get(P.PROCESSING, (0, 0))[1],
        )
        rows = [(r.Payout, r.NetworkPartner, r.User, r.processor) for r in found.rows]
        return rows, found.total, summary


MEMBER_LISTING = Listing(
    rows=select(Payout),
    key=Payout.id,
    base=Payout,
    filters=[equals("partner_id", Payout.partner_id), equals("status", Payout.status)],
    sorts={"createdAt": Payout.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)
_processor = aliased(User, name="processor")
LISTING = Listing(
    rows=select(Payout, NetworkPartner, User, _processor)
    .join(NetworkPartner, NetworkPartner.id == Payout.partner_id)
    .join(User, User.id == NetworkPartner.user_id)
    .outerjoin(_processor, _processor.id == Payout.processed_by),
    key=Payout.id,
    base=Payout,
    filters=[
        equals("status", Payout.status),
        equals("partner_id", Payout.partner_id),
        at_least("date_from", Payout.created_at),
        below("date_to", Payout.created_at),
        at_least("min_amount_minor", Payout.amount_minor),
    ],
    sorts={"createdAt": Payout.created_at},
    default_sort="createdAt",
    entities=True,
)


def _pending_sums(where: ColumnElement[bool]) -> Select[str, int, int]:
    """Count and amount of the payouts still to pay, by status, under the filters given."""
    return (
        select(Payout.status, func.count(), func.sum(Payout.amount_minor))
        .where(where, Payout.status.in_([P.PENDING, P.PROCESSING]))
        .group_by(Payout.status)
    )


class PayoutProcessor:
    """`process`: three short transactions, so no lock is held while the provider works.

    1. Claim: a conditional UPDATE APPROVED -> PROCESSING (ledger + audit), committed. Of
       any number of concurrent calls exactly one gets the row; the rest see NOT_APPROVED.
    2. The provider call with the payout's idempotency key (outside any transaction).
    3. Outcome: COMPLETED (withdrawn, commissions settled) or back to APPROVED with
       PAYMENT_FAILED, each with its ledger entry and audit record.
    """

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        settings: Settings,
        provider: PaymentProvider,
    ) -> None:
        self._maker = maker
        self._settings = settings
        self._provider = provider

    @classmethod
    def of(cls, resources: Resources) -> "PayoutProcessor":
        """The app's processor: its database and the configured payment provider."""
        settings = resources.settings
        provider = make_provider(settings.payout_provider, resources.sessionmaker)
        return cls(resources.sessionmaker, settings, provider)

    async def process(
        self, admin: Principal, payout_id: uuid.UUID, external_reference: str | None
    ) -> Payout:
        """PayoutNotFound; NotApproved; SeparationOfDuties (403) when the approver of a
        payout above the four-eyes threshold processes it; PayoutNotCovered (400
        INSUFFICIENT_BALANCE) while the partner's available balance is negative;
        PaymentFailed (the payout is APPROVED again)."""
        async with self._maker.begin() as db:
            # Under the partner's lock (the lock every balance change takes first), so no
            # clawback lands between the check and the claim.
            current = await _lock_payout(db, NetworkService(db, self._settings), payout_id)
            if current.status != P.APPROVED:
                raise NotApproved(details={"status": [str(current.status)]})
            if (
                current.amount_minor > to_minor(self._settings.four_eyes_above)
                and current.approved_by == admin.user_id
            ):
                raise SeparationOfDuties(
                    details={"approvedBy": ["the processor must be another admin"]}
                )
            partner = await db.get(NetworkPartner, current.partner_id, populate_existing=True)
            assert partner is not None  # noqa: S101
            check_covered(partner)
            now = clock.now()
            claimed = await db.scalar(
                update(Payout)
                .where(Payout.id == payout_id, Payout.status == P.APPROVED)
                .values(
                    status=P.PROCESSING,
                    processed_at=now,
                    processed_by=admin.user_id,
                    updated_at=now,
                )
                .returning(Payout)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            if claimed is None:
                exists = await db.scalar(select(Payout.status).where(Payout.id == payout_id))
                if exists is None:
                    raise PayoutNotFound()
                raise NotApproved(details={"status": [str(exists)]})
            before = payout_shares(P.APPROVED, claimed.amount_minor, claimed.funds_returned)
            await payout_moved(
                LedgerService(db), claimed, "PAYOUT_PROCESSING", before, admin.user_id
            )
            AuditService(db).record(
                admin,
                "PAYOUT_PROCESSING",
                "payout",
                claimed.id,
                {"status": P.APPROVED.value},
                {"status": P.PROCESSING.value},
            )
            order = _payment_order(claimed, external_reference)
        try:
            result = await self._provider.pay(order)
        except ProviderDeclined as exc:
            await self._failed(admin.user_id, payout_id, exc, ip=admin.ip)
            raise PaymentFailed(details=exc.details) from exc
        row = await self._paid(admin.user_id, payout_id, result, external_reference, ip=admin.ip)
        assert row is not None  # noqa: S101 (only a reconciliation finds it moved on)
        return row

    async def reconcile(
        self, stale_after: timedelta, on_progress: OnProgress = silent
    ) -> dict[str, int]:
        """Finishes payouts left in PROCESSING for longer than `stale_after` (the process
        stopped between its claim and the outcome, or the provider had not finished): asks
        the provider again with the same idempotency key, which pays at most once and
        answers with the payment it made, and records the outcome as `process` would, in
        the name of the admin who started it. Counts payouts completed, sent and failed."""
        cutoff = clock.now() - stale_after
        async with self._maker() as db:
            stale = list(
                await db.scalars(
                    select(Payout)
                    .where(
                        Payout.status == P.PROCESSING,
                        # Zero: every one, however recent (`iwm reconcile-payouts --now`).
                        *([Payout.updated_at < cutoff] if stale_after else []),
                    )
                    .order_by(Payout.updated_at)
                )
            )
        counts = {"completed": 0, "sent": 0, "failed": 0}
        for done, payout in enumerate(stale):
            on_progress("payouts", done, len(stale))
            try:
                result = await self._provider.pay(_payment_order(payout, payout.external_reference))
            except ProviderDeclined as exc:
                if await self._failed(payout.processed_by, payout.id, exc, reconciled=True):
                    counts["failed"] += 1
                continue
            row = await self._paid(
                payout.processed_by, payout.id, result, payout.external_reference, reconciled=True
            )
            if row is not None:
                counts["completed" if row.status == P.COMPLETED else "sent"] += 1
        on_progress("payouts", len(stale), len(stale))
        return counts

    async def _paid(
        self,
        actor: uuid.UUID | None,
        payout_id: uuid.UUID,
        result: PaymentResult,
        external_reference: str | None,
        *,
        ip: str | None = None,
        reconciled: bool = False,
    ) -> Payout | None:
        """Records what the provider answered; None when a reconciliation finds the payout
        already moved on (another run, or `process` itself)."""
        async with self._maker.begin() as db:
            ledger = LedgerService(db)
            row = await _lock_payout(db, NetworkService(db, self._settings), payout_id)
            if reconciled and row.status != P.PROCESSING:
                return None
            if reconciled and not result.completed:
                return row  # still on its way: nothing new to record, asked again later
            before = payout_shares(row.status, row.amount_minor, row.funds_returned)
            now = clock.now()
            row.external_reference = external_reference or result.reference
            row.estimated_completion_at = result.estimated_completion
            if result.completed:
                row.status = P.COMPLETED
                row.completed_at = now
            row.updated_at = now
            kind = "PAYOUT_COMPLETED" if result.completed else "PAYOUT_SENT"
            await payout_moved(ledger, row, kind, before, actor)
            if result.completed:
                partner = await db.get(NetworkPartner, row.partner_id, populate_existing=True)
                assert partner is not None  # noqa: S101
                await CommissionEngine(db, self._settings).settle_paid(
                    row.partner_id, partner.total_withdrawn_minor
                )
            AuditService(db).record_by(
                actor,
                kind,
                "payout",
                row.id,
                {"status": P.PROCESSING.value},
                {**_audit_values(row), **({"reconciled": True} if reconciled else {})},
                ip=ip,
            )
        return row

    async def _failed(
        self,
        actor: uuid.UUID | None,
        payout_id: uuid.UUID,
        exc: ProviderDeclined,
        *,
        ip: str | None = None,
        reconciled: bool = False,
    ) -> bool:
        """Back to APPROVED with the provider's refusal; False when a reconciliation finds
        the payout already moved on."""
        async with self._maker.begin() as db:
            ledger = LedgerService(db)
            row = await _lock_payout(db, NetworkService(db, self._settings), payout_id)
            if reconciled and row.status != P.PROCESSING:
                return False
            before = payout_shares(row.status, row.amount_minor, row.funds_returned)
            row.status = P.APPROVED
            # Not processed after all: the attempt stays in the audit log and the ledger.
            row.processed_at = None
            row.processed_by = None
            row.updated_at = clock.now()
            await payout_moved(ledger, row, "PAYOUT_FAILED", before, actor)
            AuditService(db).record_by(
                actor,
                "PAYOUT_PAYMENT_FAILED",
                "payout",
                row.id,
                {"status": P.PROCESSING.value},
                {
                    "status": P.APPROVED.value,
                    "error": exc.detail_message,
                    **({"reconciled": True} if reconciled else {}),
                },
                ip=ip,
            )
        return True


def _payment_order(payout: Payout, reference_hint: str | None) -> PaymentOrder:
    """What the provider is asked to pay: always under the payout's own idempotency key."""
    return PaymentOrder(
        idempotency_key=payout.idempotency_key,
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        method_type=payout.method_type,
        reference_hint=reference_hint,
    )


async def _lock_payout(db: AsyncSession, network: NetworkService, payout_id: uuid.UUID) -> Payout:
    partner_id = await db.scalar(select(Payout.partner_id).where(Payout.id == payout_id))
    if partner_id is None:
        raise PayoutNotFound()
    await network.lock_partner(partner_id)
    row = await db.scalar(
        select(Payout)
        .where(Payout.id == payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # noqa: S101
    return row


async def reconcile_payouts(
    resources: Resources, *, now: bool = False, on_progress: OnProgress = silent
) -> dict[str, int]:
    """`PayoutProcessor.reconcile` of the app, for payouts stale past the configured delay;
    with `now`, every payout in PROCESSING at once (an operator who knows its `process` was
    interrupted). Safe even against a `process` still running: both ask the provider with
    the payout's idempotency key, and only the first outcome is recorded."""
    stale_after = (
        timedelta(0)
        if now
        else timedelta(seconds=resources.settings.payout_reconcile_after_seconds)
    )
    return await PayoutProcessor.of(resources).reconcile(stale_after, on_progress)
