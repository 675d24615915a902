"""Kiosk analytics: orders, print rate, errors and an uptime estimate per partner and per
kiosk (docs/analytics.md). Reads only; reads the raw kiosk tables, which retention keeps
small (orders 30 days, errors 60), and adds no work to the heartbeat."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import Settings
from iwm.core.money import from_minor
from iwm.core.principal import Role
from iwm.modules.activity.models import ActivityLog
from iwm.modules.analytics.periods import Window, percent
from iwm.modules.analytics.schemas import (
    CurrencyAmount,
    ErrorCount,
    KioskAnalyticsResponse,
    KioskDay,
    KioskRow,
    KioskSummary,
    PartnerRow,
    Uptime,
)
from iwm.modules.kiosks.errors import KioskNotFound
from iwm.modules.kiosks.models import Kiosk, KioskErrorReport
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.orders.models import Order
from iwm.modules.rounds.models import KioskSession, SessionStatus
from iwm.modules.shops.models import Shop
from iwm.modules.users.models import User, UserRole

HOUR = 3600
KIOSK_ACTOR = "kiosk"  # activity rows written by the device itself (orders, codes, errors)


def hour_of(moment: datetime) -> int:
    """Whole hours since the epoch: the UTC hour a moment falls in."""
    return int(moment.timestamp()) // HOUR


def _day_of_hour(hour: int) -> date:
    return datetime.fromtimestamp(hour * HOUR, UTC).date()


@dataclass(slots=True)
class _Tally:
    """Figures of one kiosk, or summed over several."""

    orders: int = 0
    printed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    up_hours: int = 0
    observed_hours: int = 0
    online_rounds: int = 0
    online_minor: Counter[str] = field(default_factory=Counter)
    days: dict[date, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, other: "_Tally") -> None:
        self.orders += other.orders
        self.printed += other.printed
        self.errors.update(other.errors)
        self.up_hours += other.up_hours
        self.online_rounds += other.online_rounds
        self.online_minor.update(other.online_minor)
        self.observed_hours += other.observed_hours
        for day, (orders, printed) in other.days.items():
            self.days[day][0] += orders
            self.days[day][1] += printed

    def figures(self, days: list[date]) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "printed": self.printed,
            "print_rate": percent(self.printed, self.orders),
            "errors": sum(self.errors.values()),
            "errors_by_code": [
                ErrorCount(code=code, count=n)
                for code, n in sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "online_rounds": self.online_rounds,
            "online_revenue": [
                CurrencyAmount(currency=c, amount=from_minor(m))
                for c, m in sorted(self.online_minor.items())
            ],
            "uptime": Uptime(
                up_hours=self.up_hours,
                observed_hours=self.observed_hours,
                percentage=percent(self.up_hours, self.observed_hours),
            ),
            "timeline": [
                KioskDay(
                    date=d,
                    orders=self.days[d][0] if d in self.days else 0,
                    printed=self.days[d][1] if d in self.days else 0,
                )
                for d in days
            ],
        }


class KioskAnalyticsService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings

    def _hour(self, column: Any) -> Any:
        """SQL form of `hour_of`: the same integer on both databases, whatever the
        session's time zone."""
        if self._db.get_bind().dialect.name == "postgresql":
            return cast(func.floor(func.extract("epoch", column) / HOUR), BigInteger)
        return cast(func.strftime("%s", column), Integer) / HOUR

    async def _check_filters(
        self, partner_id: uuid.UUID | None, kiosk_id: uuid.UUID | None
    ) -> None:
        if partner_id is not None:
            is_partner = await self._db.execute(
                select(UserRole.user_id).where(
                    UserRole.user_id == partner_id, UserRole.role == Role.PARTNER.value
                )
            )
            if is_partner.first() is None:
                raise PartnerNotFound()
        if kiosk_id is not None:
            stmt = select(Kiosk.id).where(Kiosk.id == kiosk_id)
            if partner_id is not None:
                stmt = stmt.join(Shop, Shop.id == Kiosk.shop_id).where(
                    Shop.partner_user_id == partner_id
                )
            if (await self._db.execute(stmt)).first() is None:
                raise KioskNotFound()

    async def kiosks(
        self, w: Window, partner_id: uuid.UUID | None = None, kiosk_id: uuid.UUID | None = None
    ) -> KioskAnalyticsResponse:
        """Raises PartnerNotFound (no PARTNER user of that id) or KioskNotFound (no such
        kiosk, or not one of the partner's)."""
        await self._check_filters(partner_id, kiosk_id)
        orders_from = max(w.start, w.end - timedelta(days=self._settings.order_retention_days))
        errors_from = max(
            w.start, w.end - timedelta(days=self._settings.kiosk_error_retention_days)
        )

        kiosk_stmt = (
            select(
                Kiosk, Shop.name, Shop.partner_user_id, User.email, User.first_name, User.last_name
            )
            .join(Shop, Shop.id == Kiosk.shop_id)
            .join(User, User.id == Shop.partner_user_id)
            .where(Kiosk.created_at <= w.end)
        )
        if partner_id is not None:
            kiosk_stmt = kiosk_stmt.where(Shop.partner_user_id == partner_id)
        if kiosk_id is not None:
            kiosk_stmt = kiosk_stmt.where(Kiosk.id == kiosk_id)
        kiosk_rows = (await self._db.execute(kiosk_stmt)).all()
        ids = [row[0].id for row in kiosk_rows]

        tallies: dict[uuid.UUID, _Tally] = {i: _Tally() for i in ids}
        alive: dict[uuid.UUID, set[int]] = defaultdict(set)
        if ids:
            await self._read_orders(ids, orders_from, w.end, tallies, alive)
            await self._read_errors(ids, errors_from, w.end, tallies)
            await self._read_activity(ids, w.start, w.end, alive)
            await self._read_online(ids, w.start, w.end, tallies)

        end_hour = hour_of(w.end)
        online = timedelta(seconds=self._settings.online_window_seconds)
        kiosk_out: list[KioskRow] = []
        partners: dict[uuid.UUID, tuple[str, str, list[_Tally]]] = {}
        days = _days(orders_from.date(), w.last_day)
        for kiosk, shop_name, owner, email, first, last in sorted(
            kiosk_rows, key=lambda r: (r[3], r[0].name, str(r[0].id))
        ):
            tally = tallies[kiosk.id]
            hours = alive[kiosk.id]
            seen = kiosk.last_active_at
            if seen is not None and w.start <= seen <= w.end:
                hours.add(hour_of(seen))
                if w.end - seen <= online:  # online now: the current hour counts too
                    hours.add(end_hour)
            first_hour = hour_of(max(w.start, kiosk.created_at))
            tally.observed_hours = end_hour - first_hour + 1
            tally.up_hours = sum(1 for h in hours if first_hour <= h <= end_hour)
            kiosk_out.append(
                KioskRow(
                    kiosk_id=kiosk.id,
                    kiosk_name=kiosk.name,
                    shop_id=kiosk.shop_id,
                    shop_name=shop_name,
                    partner_id=owner,
                    status=kiosk.status,
                    last_active_at=seen,
                    **tally.figures(days),
                )
            )
            name = " ".join(p for p in (first, last) if p) or email
            partners.setdefault(owner, (name, email, []))[2].append(tally)

        partner_out: list[PartnerRow] = []
        total = _Tally()
        for owner, (name, email, kiosk_tallies) in partners.items():
            sub = _sum(kiosk_tallies)
            total.add(sub)
            partner_out.append(
                PartnerRow(
                    partner_id=owner,
                    partner_name=name,
                    partner_email=email,
                    kiosks=len(kiosk_tallies),
                    **sub.figures(days),
                )
            )
        return KioskAnalyticsResponse(
            period=w.period.value,
            period_start=w.start,
            period_end=w.end,
            orders_from=orders_from,
            errors_from=errors_from,
            summary=KioskSummary(
                kiosks=len(kiosk_out), partners=len(partner_out), **total.figures(days)
            ),
            by_partner=partner_out,
            by_kiosk=kiosk_out,
        )

    async def _read_orders(
        self,
        ids: list[uuid.UUID],
        start: datetime,
        end: datetime,
        tallies: dict[uuid.UUID, _Tally],
        alive: dict[uuid.UUID, set[int]],
    ) -> None:
        hour = self._hour(Order.created_at)
        stmt = (
            select(Order.kiosk_id, hour, func.count(), func.count(Order.printed_at))
            .where(Order.kiosk_id.in_(ids), Order.created_at >= start, Order.created_at <= end)
            .group_by(Order.kiosk_id, hour)
        )
        for kiosk, h, orders, printed in await self._db.execute(stmt):
            tally = tallies[kiosk]
            tally.orders += orders
            tally.printed += printed
            day = tally.days[_day_of_hour(int(h))]
            day[0] += orders
            day[1] += printed
            alive[kiosk].add(int(h))

    async def _read_errors(
        self, ids: list[uuid.UUID], start: datetime, end: datetime, tallies: dict[uuid.UUID, _Tally]
    ) -> None:
        stmt = (
            select(KioskErrorReport.kiosk_id, KioskErrorReport.code, func.count())
            .where(
                KioskErrorReport.kiosk_id.in_(ids),
                KioskErrorReport.created_at >= start,
                KioskErrorReport.created_at <= end,
            )
            .group_by(KioskErrorReport.kiosk_id, KioskErrorReport.code)
        )
        for kiosk, code, n in await self._db.execute(stmt):
            tallies[kiosk].errors[code] += n

    async def _read_activity(
        self, ids: list[uuid.UUID], start: datetime, end: datetime, alive: dict[uuid.UUID, set[int]]
    ) -> None:
        """Hours in which the device itself did something (an order, a code, an error
        report). The activity log is kept past the order retention, so this covers the
        whole period."""
        hour = self._hour(ActivityLog.created_at)
        stmt = (
            select(ActivityLog.kiosk_id, hour)
            .where(
                and_(
                    ActivityLog.kiosk_id.in_(ids),
                    ActivityLog.actor_type == KIOSK_ACTOR,
                    ActivityLog.created_at >= start,
                    ActivityLog.created_at <= end,
                )
            )
            .group_by(ActivityLog.kiosk_id, hour)
        )
        for kiosk, h in await self._db.execute(stmt):
            alive[kiosk].add(int(h))

    async def _read_online(
        self, ids: list[uuid.UUID], start: datetime, end: datetime, tallies: dict[uuid.UUID, _Tally]
    ) -> None:
        """Rounds paid online and started (refunded ones are no revenue)."""
        stmt = (
            select(
                KioskSession.kiosk_id,
                KioskSession.currency,
                func.count(),
                func.sum(KioskSession.amount_minor),
            )
            .where(
                KioskSession.kiosk_id.in_(ids),
                KioskSession.status == SessionStatus.STARTED.value,
                KioskSession.started_at >= start,
                KioskSession.started_at <= end,
            )
            .group_by(KioskSession.kiosk_id, KioskSession.currency)
        )
        for kiosk, currency, n, amount in await self._db.execute(stmt):
            tallies[kiosk].online_rounds += int(n)
            tallies[kiosk].online_minor[currency] += int(amount or 0)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _sum(tallies: Iterable[_Tally]) -> _Tally:
    total = _Tally()
    for t in tallies:
        total.add(t)
    return total
