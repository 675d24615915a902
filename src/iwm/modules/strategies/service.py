"""Investment strategies (admin) and members' participations in them."""

import calendar
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.events import publish
from iwm.core.listing import Listing, SortOrder, contains, equals, one_of
from iwm.core.money import from_minor, percent_to_bp, to_minor
from iwm.core.principal import Principal
from iwm.core.progress import OnProgress, silent
from iwm.core.resources import Resources
from iwm.core.slug import first_free, slugify
from iwm.core.upsert import insert
from iwm.modules.audit.service import AuditService
from iwm.modules.categories.models import Category, CategoryType
from iwm.modules.categories.service import CategoryService
from iwm.modules.commissions.engine import CommissionEngine, Sale, SaleLine
from iwm.modules.commissions.models import SourceType
from iwm.modules.payments.service import PaymentService
from iwm.modules.ranks.service import parse_period, previous_period
from iwm.modules.strategies.errors import (
    CapacityExceeded,
    HasActiveParticipations,
    ParticipationNotFound,
    StrategyNotActive,
    StrategyNotFound,
)
from iwm.modules.strategies.events import (
    ParticipationFinished,
    ParticipationStarted,
    ReturnCredited,
    ReturnsPaid,
)
from iwm.modules.strategies.models import (
    InvestmentReturn,
    Participation,
    ParticipationStatus,
    ReturnStatus,
    Strategy,
    StrategyStatus,
    invested,
)
from iwm.modules.strategies.schemas import StrategyCreate, StrategyUpdate


@dataclass(frozen=True, slots=True)
class StrategyStats:
    participants: int = 0
    active: int = 0
    invested_minor: int = 0
    distributed_minor: int = 0
    pending_minor: int = 0


def _check_rules(row: Strategy) -> None:
    """min <= expected <= max, days and amounts in order, capacity not below what is used."""
    errors: dict[str, list[str]] = {}
    if not row.return_min_bp <= row.return_expected_bp <= row.return_max_bp:
        errors["returnRate"] = ["min <= expected <= max is required"]
    if row.min_days > row.max_days:
        errors["duration"] = ["minDays must not exceed maxDays"]
    if row.lock_period_days > row.max_days:
        errors.setdefault("duration", []).append("lockPeriodDays must not exceed maxDays")
    if row.max_amount_minor is not None and row.min_amount_minor > row.max_amount_minor:
        errors["investment.maxAmount"] = ["maxAmount must not be below minAmount"]
    if row.total_capacity_minor is not None:
        if row.total_capacity_minor < row.used_capacity_minor:
            errors["investment.totalCapacity"] = ["below the amount already invested"]
        elif row.total_capacity_minor < row.min_amount_minor:
            errors["investment.totalCapacity"] = ["below the minimum investment"]
    if errors:
        raise ValidationFailed(details=errors)


def _snapshot(row: Strategy) -> dict[str, Any]:
    return {
        "name": row.name,
        "status": str(row.status),
        "categoryId": str(row.category_id),
        "returnRate": [
            str(from_minor(b))
            for b in (row.return_min_bp, row.return_expected_bp, row.return_max_bp)
        ],
        "minAmount": str(from_minor(row.min_amount_minor)),
        "maxAmount": None
        if row.max_amount_minor is None
        else str(from_minor(row.max_amount_minor)),
        "totalCapacity": (
            None if row.total_capacity_minor is None else str(from_minor(row.total_capacity_minor))
        ),
        "commissionPercentage": str(from_minor(row.commission_bp)),
        "careerPointsPercentage": str(from_minor(row.career_points_bp)),
        "terms": row.terms,
    }


def _opt_minor(value: Any) -> int | None:
    return None if value is None else to_minor(value)


STRATEGIES = Listing(
    rows=select(Strategy),
    key=Strategy.id,
    base=Strategy,
    filters=[equals("status", Strategy.status), equals("category_id", Strategy.category_id)],
    sorts={"createdAt": Strategy.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)


# The members' catalogue: ACTIVE strategies, a category with its children.
CATALOGUE = Listing(
    rows=select(Strategy, Category).outerjoin(Category, Category.id == Strategy.category_id),
    key=Strategy.id,
    base=Strategy,
    filters=[
        equals("status", Strategy.status),
        one_of("category_ids", Strategy.category_id),
        contains(
            "search",
            Strategy.name,
            Strategy.short_description,
            Strategy.description,
            case_insensitive=True,
        ),
    ],
    sorts={"createdAt": Strategy.created_at, "name": Strategy.name},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)


class StrategyService:
    """Never commits: the request's transaction does."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._audit = AuditService(session)

    async def get(self, strategy_id: uuid.UUID) -> Strategy:
        row = await self._db.get(Strategy, strategy_id)
        if row is None:
            raise StrategyNotFound()
        return row

    async def catalogue(
        self,
        page: int,
        page_size: int,
        *,
        category_id: uuid.UUID | None,
        search: str | None,
        sort_by: str,
        sort_order: SortOrder,
    ) -> tuple[list[tuple[Strategy, Category | None]], int]:
        """ACTIVE strategies, in `category_id` or any category below it, searched in name
        and descriptions (case-insensitive)."""
        ids = (
            await CategoryService(self._db).subtree(category_id, CategoryType.STRATEGY)
            if category_id is not None
            else None
        )
        if ids == []:
            return [], 0
        found = await CATALOGUE.page(
            self._db,
            {"status": StrategyStatus.ACTIVE, "category_ids": ids, "search": search or None},
            page=page,
            page_size=page_size,
            sort_by=sort_by,
            sort_order=sort_order,
        )
        return [(r.Strategy, r.Category) for r in found.rows], found.total

    async def in_catalogue(self, strategy_id: uuid.UUID) -> tuple[Strategy, Category | None]:
        """An ACTIVE strategy; anything else is STRATEGY_NOT_FOUND (404)."""
        row = (
            await self._db.execute(
                select(Strategy, Category)
                .outerjoin(Category, Category.id == Strategy.category_id)
                .where(Strategy.id == strategy_id, Strategy.status == StrategyStatus.ACTIVE)
            )
        ).first()
        if row is None:
            raise StrategyNotFound()
        return row[0], row[1]

    async def list_page(
        self,
        page: int,
        page_size: int,
        status: StrategyStatus | None,
        category_id: uuid.UUID | None,
    ) -> tuple[list[tuple[Strategy, StrategyStats]], int]:
        found = await STRATEGIES.page(
            self._db, {"status": status, "category_id": category_id}, page=page, page_size=page_size
        )
        total = found.total
        rows = [r.Strategy for r in found.rows]
        stats = await self._stats([r.id for r in rows])
        return [(r, stats.get(r.id, StrategyStats())) for r in rows], total

    async def _stats(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, StrategyStats]:
        if not ids:
            return {}
        active = Participation.status == ParticipationStatus.ACTIVE
        result = await self._db.execute(
            select(
                Participation.strategy_id,
                func.count(func.distinct(Participation.user_id)),
                func.count(func.distinct(case((active, Participation.user_id)))),
                func.sum(Participation.amount_minor),
                func.sum(Participation.returns_distributed_minor),
                func.sum(Participation.pending_returns_minor),
            )
            .where(Participation.strategy_id.in_(ids), invested())
            .group_by(Participation.strategy_id)
        )
        return {
            sid: StrategyStats(int(n), int(a), int(inv or 0), int(dist or 0), int(pend or 0))
            for sid, n, a, inv, dist, pend in result.all()
        }

    async def _free_slug(self, name: str) -> str:
        base = slugify(name)
        taken = set(
            await self._db.scalars(
                select(Strategy.slug).where(
                    (Strategy.slug == base) | Strategy.slug.startswith(f"{base}-", autoescape=True)
                )
            )
        )
        return first_free(base, taken)

    async def create(self, admin: Principal, body: StrategyCreate) -> Strategy:
        """CategoryNotFound (404); ValidationFailed when min <= expected <= max fails."""
        await CategoryService(self._db).get(body.category_id, CategoryType.STRATEGY)
        rate, inv = body.return_rate, body.investment
        row = Strategy(
            name=body.name.strip(),
            slug=await self._free_slug(body.name),
            description=body.description,
            short_description=body.short_description,
            category_id=body.category_id,
            status=body.status,
            risk_level=body.risk_level,
            risk_disclosure=body.risk_disclosure,
            return_min_bp=percent_to_bp(rate.min),
            return_max_bp=percent_to_bp(rate.max),
            return_expected_bp=percent_to_bp(rate.expected),
            return_type=rate.type,
            payout_frequency=rate.payout_frequency,
            min_days=body.duration.min_days,
            max_days=body.duration.max_days,
            lock_period_days=body.duration.lock_period_days,
            min_amount_minor=to_minor(inv.min_amount),
            max_amount_minor=_opt_minor(inv.max_amount),
            currency=inv.currency,
            total_capacity_minor=_opt_minor(inv.total_capacity),
            used_capacity_minor=0,
            terms=body.terms.model_dump(mode="json", by_alias=True),
            commission_bp=percent_to_bp(body.commission_percentage),
            career_points_bp=percent_to_bp(body.career_points_percentage),
            created_by=admin.user_id,
            updated_by=admin.user_id,
        )
        _check_rules(row)
        self._db.add(row)
        await self._db.flush()
        self._audit.record(admin, "STRATEGY_CREATED", "strategy", row.id, new=_snapshot(row))
        return row

    async def update(
        self, admin: Principal, strategy_id: uuid.UUID, body: StrategyUpdate
    ) -> Strategy:
        """StrategyNotFound, CategoryNotFound, ValidationFailed; closing while participations
        are active is HasActiveParticipations. Locks the strategy row (capacity checks)."""
        row = await self._db.scalar(
            select(Strategy).where(Strategy.id == strategy_id).with_for_update()
        )
        if row is None:
            raise StrategyNotFound()
        before = _snapshot(row)
        fields = body.model_fields_set
        for name in ("name", "description", "short_description", "risk_disclosure"):
            if name in fields and getattr(body, name) is not None:
                setattr(row, name, getattr(body, name))
        if "category_id" in fields and body.category_id is not None:
            await CategoryService(self._db).get(body.category_id, CategoryType.STRATEGY)
            row.category_id = body.category_id
        if body.return_rate is not None:
            rr = body.return_rate
            if rr.min is not None:
                row.return_min_bp = percent_to_bp(rr.min)
            if rr.max is not None:
                row.return_max_bp = percent_to_bp(rr.max)
            if rr.expected is not None:
                row.return_expected_bp = percent_to_bp(rr.expected)
        if body.investment is not None:
            inv, set_ = body.investment, body.investment.model_fields_set
            if inv.min_amount is not None:
                row.min_amount_minor = to_minor(inv.min_amount)
            if "max_amount" in set_:
                row.max_amount_minor = _opt_minor(inv.max_amount)
            if "total_capacity" in set_:
                row.total_capacity_minor = _opt_minor(inv.total_capacity)
        if body.terms is not None:
            row.terms = {
                **row.terms,
                **body.terms.model_dump(mode="json", by_alias=True, exclude_unset=True),
            }
        if body.commission_percentage is not None:
            row.commission_bp = percent_to_bp(body.commission_percentage)
        if body.career_points_percentage is not None:
            row.career_points_bp = percent_to_bp(body.career_points_percentage)
        if body.status is not None and body.status != row.status:
            if body.status is StrategyStatus.CLOSED:
                active = await self._db.scalar(
                    select(func.count())
                    .select_from(Participation)
                    .where(
                        Participation.strategy_id == row.id,
                        Participation.status == ParticipationStatus.ACTIVE,
                    )
                )
                if active:
                    raise HasActiveParticipations(details={"activeParticipations": [str(active)]})
            row.status = body.status
        _check_rules(row)
        row.updated_by = admin.user_id
        row.updated_at = clock.now()
        await self._db.flush()
        after = _snapshot(row)
        changed = [k for k in after if after[k] != before[k]]
        self._audit.record(
            admin,
            "STRATEGY_UPDATED",
            "strategy",
            row.id,
            previous={k: before[k] for k in changed},
            new={k: after[k] for k in changed},
        )
        return row


class ParticipationService:
    """Members' investments. `invest` fills capacity with a conditional update, so two
    concurrent investments can never overfill a strategy, and runs the commission engine."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings

    async def invest(
        self, user_id: uuid.UUID, strategy_id: uuid.UUID, amount_minor: int
    ) -> Participation:
        """StrategyNotFound, StrategyNotActive, ValidationFailed (outside min/max),
        CapacityExceeded (409)."""
        strategy = await self._db.get(Strategy, strategy_id)
        if strategy is None:
            raise StrategyNotFound()
        if strategy.status != StrategyStatus.ACTIVE:
            raise StrategyNotActive()
        if amount_minor < strategy.min_amount_minor or (
            strategy.max_amount_minor is not None and amount_minor > strategy.max_amount_minor
        ):
            raise ValidationFailed(details={"amount": ["outside the strategy's min and max"]})
        if not await self.take_capacity(strategy_id, amount_minor):
            raise CapacityExceeded()
        row = Participation(strategy_id=strategy_id, user_id=user_id, amount_minor=amount_minor)
        self._db.add(row)
        await self.activate(row, strategy)
        return row

    async def take_capacity(self, strategy_id: uuid.UUID, amount_minor: int) -> bool:
        """One conditional UPDATE: False when the strategy is not ACTIVE or `amount_minor`
        no longer fits its capacity (so concurrent investments never overfill it)."""
        filled = await self._db.execute(
            update(Strategy)
            .where(
                Strategy.id == strategy_id,
                Strategy.status == StrategyStatus.ACTIVE,
                (Strategy.total_capacity_minor.is_(None))
                | (Strategy.used_capacity_minor + amount_minor <= Strategy.total_capacity_minor),
            )
            .values(used_capacity_minor=Strategy.used_capacity_minor + amount_minor)
            .returning(Strategy.id)
            .execution_options(synchronize_session=False)
        )
        return filled.scalar_one_or_none() is not None

    async def activate(self, row: Participation, strategy: Strategy) -> None:
        """ACTIVE from now for the strategy's longest term, and the commission engine runs;
        the caller has taken the capacity."""
        now = clock.now()
        row.status = ParticipationStatus.ACTIVE
        row.started_at = now
        row.ends_at = now + timedelta(days=strategy.max_days)
        await self._db.flush()
        await publish(
            self._db,
            ParticipationStarted(
                participation_id=row.id,
                strategy_id=row.strategy_id,
                user_id=row.user_id,
                amount_minor=row.amount_minor,
            ),
        )
        await CommissionEngine(self._db, self._settings).on_sale(
            Sale(
                source_type=SourceType.INVESTMENT,
                source_id=row.id,
                buyer_user_id=row.user_id,
                currency=strategy.currency,
                lines=[
                    SaleLine(row.amount_minor, strategy.commission_bp, strategy.career_points_bp)
                ],
            )
        )

    @staticmethod
    async def expire_unpaid(
        maker: async_sessionmaker[AsyncSession], settings: Settings, batch: int = 200
    ) -> int:
        """Cancels the investments still PENDING_PAYMENT past their payment expiry (their
        payment pages close). Rows claimed with SKIP LOCKED, as the orders' expiry."""
        expired = 0
        while True:
            async with maker.begin() as db:
                rows = list(
                    await db.scalars(
                        select(Participation)
                        .where(
                            Participation.status == ParticipationStatus.PENDING_PAYMENT,
                            Participation.payment_expires_at <= clock.now(),
                        )
                        .order_by(Participation.payment_expires_at)
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                audit = AuditService(db)
                for row in rows:
                    row.status = ParticipationStatus.CANCELLED
                    row.closed_at = clock.now()
                    if row.payment_id is not None:
                        await PaymentService.close(db, row.payment_id)
                    audit.record_by(
                        None,
                        "INVESTMENT_EXPIRED",
                        "participation",
                        row.id,
                        previous={"status": ParticipationStatus.PENDING_PAYMENT.value},
                        new={"status": ParticipationStatus.CANCELLED.value},
                    )
            expired += len(rows)
            if len(rows) < batch:
                return expired

    async def finish(
        self, participation_id: uuid.UUID, status: ParticipationStatus
    ) -> Participation:
        """Ends an active participation (COMPLETED or WITHDRAWN), frees its capacity and pays
        out its credited returns with the principal (they become PAID)."""
        row = await self._db.scalar(
            select(Participation).where(Participation.id == participation_id).with_for_update()
        )
        if row is None:
            raise ParticipationNotFound()
        if row.status != ParticipationStatus.ACTIVE or status is ParticipationStatus.ACTIVE:
            raise ValidationFailed(details={"status": ["participation is not active"]})
        now = clock.now()
        row.status = status
        row.closed_at = now
        await self._db.execute(
            update(Strategy)
            .where(Strategy.id == row.strategy_id)
            .values(used_capacity_minor=Strategy.used_capacity_minor - row.amount_minor)
            .execution_options(synchronize_session=False)
        )
        owed = InvestmentReturn.participation_id == row.id
        credited = InvestmentReturn.status == ReturnStatus.CREDITED
        paid = await self._db.scalar(
            select(func.coalesce(func.sum(InvestmentReturn.amount_minor), 0)).where(owed, credited)
        )
        await self._db.execute(
            update(InvestmentReturn)
            .where(owed, credited)
            .values(status=ReturnStatus.PAID, paid_at=now)
            .execution_options(synchronize_session=False)
        )
        await self._db.flush()
        if paid:
            await publish(self._db, ReturnsPaid(participation_id=row.id, amount_minor=int(paid)))
        await publish(
            self._db,
            ParticipationFinished(
                participation_id=row.id,
                strategy_id=row.strategy_id,
                user_id=row.user_id,
                amount_minor=row.amount_minor,
                status=str(status),
                returns_minor=row.returns_distributed_minor,
            ),
        )
        return row


def month_bounds(period: str) -> tuple[date, date]:
    """The first day of `YYYY-MM` and the first day of the month after it."""
    year, month = int(period[:4]), int(period[5:7])
    first = date(year, month, 1)
    return first, (first + timedelta(days=32)).replace(day=1)


def prorated_return(amount_minor: int, rate_bp: int, days: int, year: int) -> int:
    """amount x annual rate x days / days of the year (actual/actual), ROUND_HALF_UP."""
    year_days = 366 if calendar.isleap(year) else 365
    return to_minor(from_minor(amount_minor) * rate_bp / BP * days / year_days)


BP = 10_000


@dataclass(frozen=True, slots=True)
class ReturnsReport:
    period: str
    credited: int
    amount_minor: int
    already_done: int  # participations whose month was credited before


class ReturnService:
    """Monthly investment returns. Never commits: the caller's transaction does."""

    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def distribute(self, period: str, on_progress: OnProgress = silent) -> ReturnsReport:
        """Credits every participation that was active during `period` (a month that has
        ended; 400 on `period` otherwise) its prorated return: one `investment_returns`
        entry each, inserted with ON CONFLICT DO NOTHING on (participation, month), so
        concurrent or repeated runs credit a month once. The strategy's expected annual
        rate over the days the participation was active that month (its first day counts,
        the day it ended does not). One audit row per run that credited anything."""
        period = parse_period(period)
        first, after = month_bounds(period)
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(after, time(), tzinfo=UTC)
        rows = (
            await self._db.execute(
                select(Participation, Strategy.return_expected_bp)
                .join(Strategy, Strategy.id == Participation.strategy_id)
                .where(
                    invested(),
                    Participation.started_at < end,
                    Participation.ends_at > start,
                    (Participation.closed_at.is_(None)) | (Participation.closed_at > start),
                )
                .order_by(Participation.id)
            )
        ).all()
        credited = total = skipped = 0
        for done, (part, rate_bp) in enumerate(rows):
            on_progress("returns", done, len(rows))
            # Invested participations have their dates (the query's bounds need them too).
            assert part.started_at is not None  # noqa: S101
            assert part.ends_at is not None  # noqa: S101
            stop = min(part.ends_at, part.closed_at or part.ends_at).date()
            days = (min(stop, after) - max(part.started_at.date(), first)).days
            amount = prorated_return(part.amount_minor, rate_bp, days, first.year)
            if days <= 0 or amount <= 0:
                continue
            return_id = uuid.uuid4()
            # A participation that has ended was paid its principal and credited returns:
            # its last month's return follows them at once.
            ended = part.status != ParticipationStatus.ACTIVE
            inserted = await self._db.scalar(
                insert(self._db, InvestmentReturn)
                .values(
                    id=return_id,
                    participation_id=part.id,
                    strategy_id=part.strategy_id,
                    user_id=part.user_id,
                    period=period,
                    days=days,
                    rate_bp=rate_bp,
                    base_minor=part.amount_minor,
                    amount_minor=amount,
                    status=ReturnStatus.PAID if ended else ReturnStatus.CREDITED,
                    paid_at=clock.now() if ended else None,
                    created_at=clock.now(),
                )
                .on_conflict_do_nothing(index_elements=["participation_id", "period"])
                .returning(InvestmentReturn.id)
            )
            if inserted is None:
                skipped += 1
                continue
            await publish(
                self._db,
                ReturnCredited(
                    return_id=return_id,
                    participation_id=part.id,
                    strategy_id=part.strategy_id,
                    user_id=part.user_id,
                    period=period,
                    amount_minor=amount,
                    paid=ended,
                ),
            )
            credited += 1
            total += amount
        on_progress("returns", len(rows), len(rows))
        if credited:
            AuditService(self._db).record_by(
                None,
                "RETURNS_DISTRIBUTED",
                "returns_period",
                period,
                new={"credited": credited, "amount": str(from_minor(total))},
            )
        return ReturnsReport(period, credited, total, skipped)


async def distribute_returns(
    resources: Resources, period: str | None = None, on_progress: OnProgress = silent
) -> ReturnsReport:
    """One month's returns in one transaction; by default the month before this one (what
    the monthly job runs)."""
    async with resources.sessionmaker.begin() as db:
        return await ReturnService(db).distribute(
            period or previous_period(clock.now()), on_progress
        )
