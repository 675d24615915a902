"""The admin side of commissions: adjustments and the list with its summary. Every state
change is a ledger entry in the same transaction."""

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.events import publish
from iwm.core.listing import Listing, at_least, below, equals, param
from iwm.core.money import from_minor, json_text, to_minor
from iwm.core.principal import Principal
from iwm.modules.audit.service import AuditService
from iwm.modules.commissions.engine import (
    CommissionEngine,
    commission_moved,
    commission_shares,
    plan_amount_of,
)
from iwm.modules.commissions.errors import (
    CannotAdjust,
    ChangeNotFound,
    CommissionNotFound,
    SeparationOfDuties,
)
from iwm.modules.commissions.events import commission_event
from iwm.modules.commissions.models import (
    ChangeStatus,
    Commission,
    CommissionChange,
    CommissionStatus,
    CommissionTotal,
    SourceType,
)
from iwm.modules.ledger.service import LedgerService
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from iwm.modules.users.models import User, display_name


class AdjustAction(enum.StrEnum):
    APPROVE = "APPROVE"
    HOLD = "HOLD"
    REVERSE = "REVERSE"
    ADJUST_AMOUNT = "ADJUST_AMOUNT"


# Which statuses each action accepts, and where it leads (None: status unchanged).
ADJUST_RULES: dict[AdjustAction, tuple[frozenset[CommissionStatus], CommissionStatus | None]] = {
    AdjustAction.APPROVE: (
        frozenset({CommissionStatus.PENDING, CommissionStatus.HELD}),
        CommissionStatus.APPROVED,
    ),
    AdjustAction.HOLD: (
        frozenset({CommissionStatus.PENDING, CommissionStatus.APPROVED}),
        CommissionStatus.HELD,
    ),
    AdjustAction.REVERSE: (
        frozenset({CommissionStatus.PENDING, CommissionStatus.APPROVED, CommissionStatus.HELD}),
        CommissionStatus.REVERSED,
    ),
    AdjustAction.ADJUST_AMOUNT: (
        frozenset({CommissionStatus.PENDING, CommissionStatus.APPROVED, CommissionStatus.HELD}),
        None,
    ),
}


@dataclass(frozen=True, slots=True)
class Adjustment:
    commission: Commission
    previous_status: str
    previous_amount: int | None
    new_amount: int | None
    # Set when a second admin confirmed a pending change: the admin who asked for it.
    requested_by: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class CommissionFilters:
    status: CommissionStatus | None = None
    source_type: SourceType | None = None
    partner_id: uuid.UUID | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    min_amount_minor: int | None = None
    sort_by: str = "createdAt"
    sort_order: str = "desc"

    @property
    def only_status_and_source(self) -> bool:
        return (
            self.partner_id is None
            and self.date_from is None
            and self.date_to is None
            and self.min_amount_minor is None
        )


class CommissionFields(Protocol):
    """What a list shows of a commission, read as plain columns."""

    id: uuid.UUID
    partner_id: uuid.UUID
    source_type: str
    source_id: uuid.UUID
    source_partner_id: uuid.UUID | None
    level_depth: int | None
    base_minor: int
    rate_bp: int
    plan_version: str | None
    rule: str | None
    plan_amount_minor: int | None
    gross_minor: int
    net_minor: int
    career_points: int
    currency: str
    status: str
    period_id: str | None
    processed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CommissionListRow:
    commission: CommissionFields
    partner_name: str
    referral_code: str
    source_partner_name: str | None
    approved_by_name: str | None


_partner = aliased(NetworkPartner, name="partner")
_partner_user = aliased(User, name="partner_user")
_source = aliased(NetworkPartner, name="source")
_source_user = aliased(User, name="source_user")
_approver = aliased(User, name="approver")


def _name_columns(user: Any, prefix: str) -> tuple[Any, Any, Any]:
    return (
        user.first_name.label(f"{prefix}_first_name"),
        user.last_name.label(f"{prefix}_last_name"),
        user.email.label(f"{prefix}_email"),
    )


# A page of commissions with the names it shows, all as plain columns (entities would cost
# more CPU than the page's SQL, and a User entity would also load its roles).
_FIELDS = [getattr(Commission, name) for name in CommissionFields.__annotations__]
LISTING = Listing(
    rows=select(
        *_FIELDS,
        _partner.referral_code,
        *_name_columns(_partner_user, "partner"),
        *_name_columns(_source_user, "source"),
        *_name_columns(_approver, "approver"),
    )
    .join(_partner, _partner.id == Commission.partner_id)
    .join(_partner_user, _partner_user.id == _partner.user_id)
    .outerjoin(_source, _source.id == Commission.source_partner_id)
    .outerjoin(_source_user, _source_user.id == _source.user_id)
    .outerjoin(_approver, _approver.id == Commission.approved_by),
    key=Commission.id,
    base=Commission,
    filters=[
        equals("status", Commission.status),
        equals("source_type", Commission.source_type),
        equals("partner_id", Commission.partner_id),
        at_least("date_from", Commission.created_at),
        below("date_to", Commission.created_at),
        at_least("min_amount_minor", Commission.net_minor),
    ],
    sorts={
        "createdAt": Commission.created_at,
        "amount": Commission.net_minor,
        "status": Commission.status,
    },
    default_sort="createdAt",
)
_TOTALS_BY_STATUS = select(
    CommissionTotal.status,
    func.sum(CommissionTotal.row_count),
    func.sum(CommissionTotal.amount_minor),
).group_by(CommissionTotal.status)
_TOTALS_OF_SOURCE = _TOTALS_BY_STATUS.where(CommissionTotal.source_type == param("source_type"))


def _sums_by_status(where: ColumnElement[bool]) -> Select[str, int, int]:
    """Row count and net sum by status under the filters given."""
    return (
        select(Commission.status, func.count(), func.sum(Commission.net_minor))
        .where(where)
        .group_by(Commission.status)
    )


def _name(row: Any, prefix: str) -> str | None:
    """The display name of `_name_columns(prefix)`; None for a user the outer join did not
    find."""
    email = getattr(row, f"{prefix}_email")
    if email is None:
        return None
    return display_name(
        getattr(row, f"{prefix}_first_name"), getattr(row, f"{prefix}_last_name"), email
    )


class CommissionService:
    """Admin side of commissions. Never commits."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._ledger = LedgerService(session)
        self._engine = CommissionEngine(session, settings)
        self._network = NetworkService(session, settings)
        self._audit = AuditService(session)

    async def adjust(
        self,
        admin: Principal,
        commission_id: uuid.UUID,
        action: AdjustAction,
        reason: str,
        new_amount_minor: int | None,
    ) -> Adjustment | CommissionChange:
        """CommissionNotFound (404); CannotAdjust (400) for PAID and REVERSED ones, for the
        engine's corrections and for an action the status does not allow; ValidationFailed
        for an amount above the plan's; SeparationOfDuties (403) when the admin who changed
        the amount approves. A raise, or a change by more than IWM_FOUR_EYES_ABOVE, is not
        applied: it is recorded as a pending change (returned) for a second admin. Locks
        the partner, then the commission."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(details={"reason": ["A reason is required"]})
        if action is AdjustAction.ADJUST_AMOUNT and new_amount_minor is None:
            raise ValidationFailed(details={"newAmount": ["Required for ADJUST_AMOUNT"]})
        row = await self._lock(commission_id)
        self._check_adjustable(row, action)
        if action is AdjustAction.APPROVE and row.amount_adjusted_by == admin.user_id:
            raise SeparationOfDuties(
                details={"approvedBy": ["the admin who changed the amount cannot approve it"]}
            )
        if action is AdjustAction.ADJUST_AMOUNT:
            assert new_amount_minor is not None  # noqa: S101 (checked above)
            self._check_within_plan(row, new_amount_minor)
            if self._needs_second_admin(row.gross_minor, new_amount_minor):
                return self._request_change(admin, row, new_amount_minor, reason)
        return await self._apply(admin, row, action, reason, new_amount_minor)

    async def confirm_change(
        self, admin: Principal, commission_id: uuid.UUID, change_id: uuid.UUID, reason: str
    ) -> Adjustment:
        """The second admin applies a pending amount change. ChangeNotFound (404);
        SeparationOfDuties (403) for the admin who asked for it; CannotAdjust (400) when
        the change is no longer pending or the commission moved on since it was asked."""
        row = await self._lock(commission_id)
        change = await self._lock_change(commission_id, change_id)
        if change.requested_by == admin.user_id:
            raise SeparationOfDuties(
                details={"changeId": ["a second admin must confirm this change"]}
            )
        self._check_adjustable(row, AdjustAction.ADJUST_AMOUNT)
        moved = row.updated_at is not None and row.updated_at > change.created_at
        if row.gross_minor != change.previous_gross_minor or moved:
            # Held, approved or changed since: the second admin would confirm a change to a
            # commission the first never saw.
            raise CannotAdjust(
                details={"changeId": ["the commission changed since the change was asked"]}
            )
        self._check_within_plan(row, change.new_gross_minor)
        change.status = ChangeStatus.CONFIRMED
        change.decided_by = admin.user_id
        change.decided_at = clock.now()
        change.decision_reason = reason.strip() or None
        return await self._apply(
            admin,
            row,
            AdjustAction.ADJUST_AMOUNT,
            change.reason,
            change.new_gross_minor,
            requested_by=change.requested_by,
            change_id=change.id,
        )

    async def reject_change(
        self, admin: Principal, commission_id: uuid.UUID, change_id: uuid.UUID, reason: str
    ) -> CommissionChange:
        """Drops a pending change (any admin, the one who asked included). ChangeNotFound;
        CannotAdjust when it is no longer pending."""
        await self._lock(commission_id)
        change = await self._lock_change(commission_id, change_id)
        change.status = ChangeStatus.REJECTED
        change.decided_by = admin.user_id
        change.decided_at = clock.now()
        change.decision_reason = reason.strip() or None
        self._audit.record(
            admin,
            "COMMISSION_CHANGE_REJECTED",
            "commission",
            commission_id,
            previous={"changeId": str(change.id), "status": ChangeStatus.PENDING.value},
            new={"status": ChangeStatus.REJECTED.value, "reason": change.decision_reason},
        )
        return change

    async def pending_changes(self, limit: int = 100) -> list[CommissionChange]:
        """The amount changes waiting for a second admin, oldest first."""
        return list(
            await self._db.scalars(
                select(CommissionChange)
                .where(CommissionChange.status == ChangeStatus.PENDING)
                .order_by(CommissionChange.created_at, CommissionChange.id)
                .limit(limit)
            )
        )

    async def _lock(self, commission_id: uuid.UUID) -> Commission:
        partner_id = await self._db.scalar(
            select(Commission.partner_id).where(Commission.id == commission_id)
        )
        if partner_id is None:
            raise CommissionNotFound()
        await self._network.lock_partner(partner_id)
        return await self._engine.lock(commission_id)

    async def _lock_change(
        self, commission_id: uuid.UUID, change_id: uuid.UUID
    ) -> CommissionChange:
        change = await self._db.scalar(
            select(CommissionChange)
            .where(
                CommissionChange.id == change_id, CommissionChange.commission_id == commission_id
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if change is None:
            raise ChangeNotFound()
        if change.status != ChangeStatus.PENDING:
            raise CannotAdjust(details={"changeId": [f"the change is {change.status}"]})
        return change

    @staticmethod
    def _check_adjustable(row: Commission, action: AdjustAction) -> None:
        if row.is_correction:
            # History is never rewritten: a correction stands; a correction of it is a new row.
            raise CannotAdjust(details={"commission": ["a correction cannot be changed"]})
        allowed, _ = ADJUST_RULES[action]
        if row.status not in allowed:
            raise CannotAdjust(details={"status": [str(row.status)]})

    @staticmethod
    def _check_within_plan(row: Commission, new_gross_minor: int) -> None:
        ceiling = (
            row.plan_amount_minor
            if row.plan_amount_minor is not None
            else plan_amount_of(row.base_minor, row.rate_bp)
        )
        if new_gross_minor > ceiling:
            raise ValidationFailed(
                details={
                    "newAmount": [
                        f"at most {json_text(from_minor(ceiling))}: the plan's amount "
                        f"(base {json_text(from_minor(row.base_minor))} x "
                        f"{json_text(from_minor(row.rate_bp))} %)"
                    ]
                }
            )

    def _needs_second_admin(self, current_minor: int, new_minor: int) -> bool:
        threshold = to_minor(self._settings.four_eyes_above)
        return new_minor > current_minor or abs(new_minor - current_minor) > threshold

    def _request_change(
        self, admin: Principal, row: Commission, new_gross_minor: int, reason: str
    ) -> CommissionChange:
        change = CommissionChange(
            id=uuid.uuid4(),
            commission_id=row.id,
            requested_by=admin.user_id,
            previous_gross_minor=row.gross_minor,
            new_gross_minor=new_gross_minor,
            reason=reason,
            status=ChangeStatus.PENDING,
            created_at=clock.now(),
        )
        self._db.add(change)
        self._audit.record(
            admin,
            "COMMISSION_CHANGE_REQUESTED",
            "commission",
            row.id,
            previous={"grossAmount": str(from_minor(row.gross_minor))},
            new={
                "grossAmount": str(from_minor(new_gross_minor)),
                "changeId": str(change.id),
                "reason": reason,
            },
        )
        return change

    async def _apply(
        self,
        admin: Principal,
        row: Commission,
        action: AdjustAction,
        reason: str,
        new_amount_minor: int | None,
        *,
        requested_by: uuid.UUID | None = None,
        change_id: uuid.UUID | None = None,
    ) -> Adjustment:
        """The change itself: its ledger entry, totals and audit row, in this transaction."""
        _, target = ADJUST_RULES[action]
        before = commission_shares(row.status, row.net_minor, row.career_points)
        totals_before = (str(row.status), row.net_minor)
        previous_status, previous_gross = str(row.status), row.gross_minor
        now = clock.now()
        if target is not None:
            row.status = target
        if target is CommissionStatus.APPROVED:
            row.approved_by = admin.user_id
            row.processed_at = now
        amount_changed = action is AdjustAction.ADJUST_AMOUNT
        if amount_changed and new_amount_minor is not None:
            row.gross_minor = new_amount_minor
            row.net_minor = self._engine.net_of(new_amount_minor)
            row.amount_adjusted_by = requested_by or admin.user_id
        row.adjusted_at = now
        row.adjusted_by = requested_by or admin.user_id
        row.adjust_reason = reason
        row.updated_at = now
        await commission_moved(
            self._ledger, row, f"COMMISSION_{action.value}", before, admin.user_id
        )
        await publish(self._db, commission_event(row, totals_before))
        confirmation = (
            {"changeId": str(change_id), "requestedBy": str(requested_by)} if change_id else {}
        )
        self._audit.record(
            admin,
            "COMMISSION_ADJUSTED",
            "commission",
            row.id,
            previous={"status": previous_status, "grossAmount": str(from_minor(previous_gross))},
            new={
                "status": str(row.status),
                "grossAmount": str(from_minor(row.gross_minor)),
                "action": action.value,
                "reason": reason,
                **confirmation,
            },
        )
        return Adjustment(
            commission=row,
            previous_status=previous_status,
            previous_amount=previous_gross if amount_changed else None,
            new_amount=row.gross_minor if amount_changed else None,
            requested_by=requested_by,
        )

    @staticmethod
    def _filters(f: CommissionFilters, *, with_status: bool) -> dict[str, Any]:
        return {
            "status": f.status if with_status else None,
            "source_type": f.source_type,
            "partner_id": f.partner_id,
            "date_from": f.date_from,
            "date_to": f.date_to,
            "min_amount_minor": f.min_amount_minor,
        }

    async def list_page(
        self, f: CommissionFilters, page: int, page_size: int
    ) -> tuple[list[CommissionListRow], int, dict[str, int]]:
        """A page, the total and the summary (net sums by status over every filter but
        `status`, so the four totals stay visible while one status is listed)."""
        summary, total = await self._summary_and_total(f)
        found = await LISTING.page(
            self._db,
            self._filters(f, with_status=True),
            page=page,
            page_size=page_size,
            sort_by=f.sort_by,
            sort_order=f.sort_order,
            total=total,
        )
        return (
            [
                CommissionListRow(
                    commission=cast(CommissionFields, row),
                    partner_name=_name(row, "partner") or "",
                    referral_code=row.referral_code,
                    source_partner_name=_name(row, "source"),
                    approved_by_name=_name(row, "approver"),
                )
                for row in found.rows
            ],
            total,
            summary,
        )

    async def _summary_and_total(self, f: CommissionFilters) -> tuple[dict[str, int], int]:
        sums: dict[str, int] = {}
        counts: dict[str, int] = {}
        params: dict[str, Any] = {}
        if f.only_status_and_source:
            stmt: Any = _TOTALS_BY_STATUS
            if f.source_type is not None:
                stmt, params = _TOTALS_OF_SOURCE, {"source_type": f.source_type}
        else:
            given, params = LISTING.bind(self._filters(f, with_status=False))
            stmt = LISTING.statement("sums_by_status", given, _sums_by_status)
        for status, n, amount in await (await self._db.connection()).execute(stmt, params):
            counts[str(status)] = int(n or 0)
            sums[str(status)] = int(amount or 0)
        total = counts.get(f.status.value, 0) if f.status is not None else sum(counts.values())
        return sums, total
