"""The admin side of commissions: adjustments and the list with its summary. Every state
change is a ledger entry in the same transaction."""

import enum
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.money import from_minor
from iwm.core.principal import Principal
from iwm.modules.audit.service import AuditService
from iwm.modules.commissions.engine import (
    CommissionEngine,
    commission_moved,
    commission_shares,
    track_totals,
)
from iwm.modules.commissions.errors import CannotAdjust, CommissionNotFound
from iwm.modules.commissions.models import (
    Commission,
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


# Built once: fresh aliases and joins per request cost more CPU than the page's SQL.
_partner = aliased(NetworkPartner, name="partner")
_partner_user = aliased(User, name="partner_user")
_source = aliased(NetworkPartner, name="source")
_source_user = aliased(User, name="source_user")
_approver = aliased(User, name="approver")


def _name_columns(user: Any) -> tuple[Any, Any, Any]:
    return user.first_name, user.last_name, user.email


# A page of commissions with the names it shows, all as plain columns (entities would cost
# more CPU than the page's SQL, and a User entity would also load its roles).
_FIELDS = [getattr(Commission, name) for name in CommissionFields.__annotations__]
_LIST_ROWS = (
    select(
        *_FIELDS,
        _partner.referral_code,
        *_name_columns(_partner_user),
        *_name_columns(_source_user),
        *_name_columns(_approver),
    )
    .join(_partner, _partner.id == Commission.partner_id)
    .join(_partner_user, _partner_user.id == _partner.user_id)
    .outerjoin(_source, _source.id == Commission.source_partner_id)
    .outerjoin(_source_user, _source_user.id == _source.user_id)
    .outerjoin(_approver, _approver.id == Commission.approved_by)
)
# Each filter of the list, built once; its value is bound per request.
_FILTERS: dict[str, ColumnElement[bool]] = {
    "status": Commission.status == bindparam("status"),
    "source_type": Commission.source_type == bindparam("source_type"),
    "partner_id": Commission.partner_id == bindparam("partner_id"),
    "date_from": Commission.created_at >= bindparam("date_from"),
    "date_to": Commission.created_at < bindparam("date_to"),  # exclusive: date_range()
    "min_amount_minor": Commission.net_minor >= bindparam("min_amount_minor"),
}
_TOTALS_BY_STATUS = select(
    CommissionTotal.status,
    func.sum(CommissionTotal.row_count),
    func.sum(CommissionTotal.amount_minor),
).group_by(CommissionTotal.status)
_TOTALS_OF_SOURCE = _TOTALS_BY_STATUS.where(CommissionTotal.source_type == bindparam("source_type"))
_SORT_COLUMNS: dict[str, Any] = {
    "createdAt": Commission.created_at,
    "amount": Commission.net_minor,
    "status": Commission.status,
}


# The statements below depend only on which filters are given and on the sort: each
# combination is built once. A statement built per request costs more CPU (building,
# cache key, result map) than the page's SQL.
@functools.cache
def _page(filters: tuple[str, ...], sort_by: str, sort_order: str) -> Select[Any]:
    """One page of `_LIST_ROWS`; binds the filters' values, `limit` and `offset`. The page's
    ids are chosen first (from an index, without the joins), then joined to the names."""
    column = _SORT_COLUMNS[sort_by]
    order = (
        [column.asc(), Commission.id.asc()]
        if sort_order == "asc"
        else [column.desc(), Commission.id.desc()]
    )
    # LIMIT and OFFSET are written into the SQL: with them as parameters PostgreSQL
    # cannot settle on one plan for the prepared statement and plans the joins each time.
    page_ids = (
        select(Commission.id)
        .where(and_(true(), *(_FILTERS[name] for name in filters)))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer, literal_execute=True))
        .offset(bindparam("offset", type_=Integer, literal_execute=True))
    )
    return _LIST_ROWS.where(Commission.id.in_(page_ids)).order_by(*order)


@functools.cache
def _sums_by_status(filters: tuple[str, ...]) -> Select[str, int, int]:
    """Row count and net sum by status under the filters given."""
    return (
        select(Commission.status, func.count(), func.sum(Commission.net_minor))
        .where(and_(true(), *(_FILTERS[name] for name in filters)))
        .group_by(Commission.status)
    )


def _name(columns: Any) -> str | None:
    """The display name from `_name_columns`; None for a user the outer join did not find."""
    first, last, email = columns
    return None if email is None else display_name(first, last, email)


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
    ) -> Adjustment:
        """CommissionNotFound (404); CannotAdjust (400) for PAID and REVERSED ones and for an
        action the status does not allow. Locks the partner, then the commission."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(details={"reason": ["A reason is required"]})
        if action is AdjustAction.ADJUST_AMOUNT and new_amount_minor is None:
            raise ValidationFailed(details={"newAmount": ["Required for ADJUST_AMOUNT"]})
        partner_id = await self._db.scalar(
            select(Commission.partner_id).where(Commission.id == commission_id)
        )
        if partner_id is None:
            raise CommissionNotFound()
        await self._network.lock_partner(partner_id)
        row = await self._engine.lock(commission_id)
        allowed, target = ADJUST_RULES[action]
        if row.status not in allowed:
            raise CannotAdjust(details={"status": [str(row.status)]})
        before = commission_shares(row.status, row.net_minor, row.career_points)
        totals_before = (str(row.status), row.net_minor)
        previous_status, previous_gross = str(row.status), row.gross_minor
        now = clock.now()
        if target is not None:
            row.status = target
        if target is CommissionStatus.APPROVED:
            row.approved_by = admin.user_id
            row.processed_at = now
        if new_amount_minor is not None and action is AdjustAction.ADJUST_AMOUNT:
            row.gross_minor = new_amount_minor
            row.net_minor = self._engine.net_of(new_amount_minor)
        row.adjusted_at = now
        row.adjusted_by = admin.user_id
        row.adjust_reason = reason
        row.updated_at = now
        await commission_moved(
            self._ledger, row, f"COMMISSION_{action.value}", before, admin.user_id
        )
        await track_totals(self._db, row, totals_before)
        amount_changed = action is AdjustAction.ADJUST_AMOUNT
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
            },
        )
        return Adjustment(
            commission=row,
            previous_status=previous_status,
            previous_amount=previous_gross if amount_changed else None,
            new_amount=row.gross_minor if amount_changed else None,
        )

    @staticmethod
    def _filtered(f: CommissionFilters, *, with_status: bool) -> dict[str, Any]:
        """The filters given, by name, with the values to bind to them."""
        values = {
            "status": f.status if with_status else None,
            "source_type": f.source_type,
            "partner_id": f.partner_id,
            "date_from": f.date_from,
            "date_to": f.date_to,
            "min_amount_minor": f.min_amount_minor,
        }
        return {name: value for name, value in values.items() if value is not None}

    async def list_page(
        self, f: CommissionFilters, page: int, page_size: int
    ) -> tuple[list[CommissionListRow], int, dict[str, int]]:
        """A page, the total and the summary (net sums by status over every filter but
        `status`, so the four totals stay visible while one status is listed)."""
        params = self._filtered(f, with_status=True)
        summary, total = await self._summary_and_total(f)
        page_rows = _page(tuple(params), f.sort_by, f.sort_order)
        params.update(limit=page_size, offset=(page - 1) * page_size)
        rows = await (await self._db.connection()).execute(page_rows, params)
        n = len(_FIELDS)
        return (
            [
                CommissionListRow(
                    commission=cast(CommissionFields, row),
                    partner_name=_name(row[n + 1 : n + 4]) or "",
                    referral_code=row[n],
                    source_partner_name=_name(row[n + 4 : n + 7]),
                    approved_by_name=_name(row[n + 7 : n + 10]),
                )
                for row in rows
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
            params = self._filtered(f, with_status=False)
            stmt = _sums_by_status(tuple(params))
        for status, n, amount in await (await self._db.connection()).execute(stmt, params):
            counts[str(status)] = int(n or 0)
            sums[str(status)] = int(amount or 0)
        total = counts.get(f.status.value, 0) if f.status is not None else sum(counts.values())
        return sums, total
