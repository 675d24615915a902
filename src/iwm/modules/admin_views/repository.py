"""SQL of the admin's users list: each user with figures from the shop orders, the
investments and the partner profiles."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    bindparam,
    case,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from iwm.core.listing import (
    Listing,
    Sort,
    SortOrder,
    at_least,
    below,
    by_value,
    clause,
    contains,
    equals,
    param,
)
from iwm.core.principal import Role
from iwm.modules.network.models import NetworkPartner
from iwm.modules.shop_orders.models import PaymentStatus, ShopOrder
from iwm.modules.strategies.models import Participation, invested
from iwm.modules.users.models import User, UserRole, UserStatus, full_name_sql
from iwm.modules.users.schemas import UserSortField

# Per page of users, built once (statement building costs more CPU than their SQL).
_PAGE_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_paid = case((ShopOrder.payment_status == PaymentStatus.PAID, ShopOrder.total_minor))
_ORDER_STATS = (
    select(ShopOrder.user_id, func.count(), func.sum(_paid))
    .where(ShopOrder.user_id.in_(_PAGE_IDS))
    .group_by(ShopOrder.user_id)
)
_INVESTMENT_STATS = (
    select(Participation.user_id, func.count(), func.sum(Participation.amount_minor))
    .where(Participation.user_id.in_(_PAGE_IDS), invested())
    .group_by(Participation.user_id)
)


def _per_user(column: Any, where: ColumnElement[bool], label: str) -> Any:
    """A correlated subquery over the listed user's own rows in another table."""
    return select(column).where(where).correlate(User).scalar_subquery().label(label)


_own_roles = UserRole.user_id == User.id
_own_orders = ShopOrder.user_id == User.id
_own_investments = (Participation.user_id == User.id) & invested()
# A page of the users list, one row per user, every figure by the per-user indexes.
_LIST_ROWS = select(
    User.id,
    User.email,
    User.phone,
    User.status,
    User.suspended_until,
    User.first_name,
    User.last_name,
    User.avatar_url,
    User.kyc_status,
    User.kyc_level,
    User.last_login_at,
    User.created_at,
    _per_user(func.aggregate_strings(UserRole.role, ","), _own_roles, "roles"),
    exists().where(NetworkPartner.user_id == User.id).label("is_partner"),
    _per_user(func.count(), _own_orders, "orders_count"),
    _per_user(func.coalesce(func.sum(_paid), 0), _own_orders, "spent_minor"),
    _per_user(func.count(), _own_investments, "investments_count"),
    _per_user(
        func.coalesce(func.sum(Participation.amount_minor), 0), _own_investments, "invested_minor"
    ),
)


def _sorts() -> dict[str, Sort]:
    """Each sort of the list, and its `:sorted` form for searches with few matches: ordered
    by the bare column, PostgreSQL may walk that column's index hoping to meet a page of
    matches early, and read half the table when they lie at its far end; COALESCE(x, x) is
    the same order, with no index to walk."""
    columns: dict[str, Any] = {
        UserSortField.CREATED_AT: User.created_at,
        UserSortField.EMAIL: User.email,
        UserSortField.LAST_LOGIN_AT: User.last_login_at,
        UserSortField.STATUS: User.effective_status_sql(param("now")),
    }
    sorts: dict[str, Sort] = {}
    for name, column in columns.items():
        # Never-logged-in users last, whichever the direction.
        nulls_last = name == UserSortField.LAST_LOGIN_AT
        sorts[name] = Sort(column, nulls_last=nulls_last)
        sorts[f"{name}:sorted"] = Sort(func.coalesce(column, column), nulls_last=nulls_last)
    return sorts


# The search is a prefix of the email, or part of the name or phone (the trigram indexes
# serve all three).
USERS = Listing(
    rows=_LIST_ROWS,
    key=User.id,
    base=User,
    filters=[
        by_value("status", lambda status: User.status_is(status, param("now"))),
        clause(
            "role",
            exists().where(UserRole.user_id == User.id, UserRole.role == param("role")),
        ),
        equals("kyc_status", User.kyc_status),
        contains("search", User.email, full_name_sql(), User.phone),
        at_least("created_from", User.created_at),
        below("created_before", User.created_at),
    ],
    sorts=_sorts(),
    default_sort=UserSortField.CREATED_AT,
)


class UserListRow(Protocol):
    id: uuid.UUID
    email: str
    phone: str | None
    status: str
    suspended_until: datetime | None
    first_name: str
    last_name: str
    avatar_url: str | None
    kyc_status: str
    kyc_level: str
    last_login_at: datetime | None
    created_at: datetime
    roles: str | None
    is_partner: bool
    orders_count: int
    spent_minor: int
    investments_count: int
    invested_minor: int


@dataclass(frozen=True, slots=True)
class MoneyStats:
    """Orders placed (any status) and what was paid for those not refunded; investments
    made and their amounts."""

    orders_count: int = 0
    spent_minor: int = 0
    investments_count: int = 0
    invested_minor: int = 0


@dataclass(frozen=True, slots=True)
class UserFilters:
    status: UserStatus | None = None
    role: Role | None = None
    kyc_status: str | None = None
    search: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    sort_by: UserSortField = UserSortField.CREATED_AT
    sort_order: SortOrder = SortOrder.DESC


# Up to this many matches, a search sorts its matches instead of walking the sort order.
_FEW_MATCHES = 5_000


class UserListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def page(
        self, filters: UserFilters, now: datetime, page: int, page_size: int
    ) -> tuple[list[UserListRow], int]:
        """The total, then the page: its ids from the indexes, joined to each user's roles,
        partner flag and money figures."""
        values = {
            "status": filters.status,
            "role": filters.role.value if filters.role is not None else None,
            "kyc_status": filters.kyc_status,
            "search": filters.search or None,
            "created_from": filters.created_from,
            "created_before": filters.created_before,
        }
        extra = {"now": now}
        total = await USERS.count(self._db, values, extra)
        sort = str(filters.sort_by)
        if filters.search and total <= _FEW_MATCHES:
            sort += ":sorted"
        found = await USERS.page(
            self._db,
            values,
            page=page,
            page_size=page_size,
            sort_by=sort,
            sort_order=filters.sort_order,
            total=total,
            extra=extra,
        )
        return [cast(UserListRow, row) for row in found.rows], found.total

    async def money_stats(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, MoneyStats]:
        """Two grouped queries for a whole page of users (per-user indexes on both tables)."""
        if not user_ids:
            return {}
        conn = await self._db.connection()
        orders = {
            uid: (int(count), int(spent or 0))
            for uid, count, spent in await conn.execute(_ORDER_STATS, {"ids": user_ids})
        }
        investments = {
            uid: (int(count), int(amount or 0))
            for uid, count, amount in await conn.execute(_INVESTMENT_STATS, {"ids": user_ids})
        }
        return {
            uid: MoneyStats(*orders.get(uid, (0, 0)), *investments.get(uid, (0, 0)))
            for uid in set(orders) | set(investments)
        }
