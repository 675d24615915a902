"""The commission engine: sales -> one commission per upline level, reversals and
settlement. Every state change is a ledger entry and a commission event (see `events.py`)
in the same transaction."""

import asyncio
import hashlib
import uuid
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.after_commit import after_commit
from iwm.core.config import Settings
from iwm.core.events import publish, publish_all
from iwm.core.money import from_minor, json_text, to_minor, to_whole
from iwm.core.principal import Principal
from iwm.core.progress import OnProgress, silent
from iwm.core.resources import Resources
from iwm.modules.commissions.errors import CommissionNotFound
from iwm.modules.commissions.events import commission_event
from iwm.modules.commissions.models import Commission, CommissionStatus, PendingSale, SourceType
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.ledger.service import LedgerService, Shares
from iwm.modules.network.models import PartnerStatus
from iwm.modules.network.service import NetworkService, UplineLevel
from iwm.modules.ranks.schemas import QualificationReport
from iwm.modules.ranks.service import RankService, previous_period

HUNDRED = Decimal(100)
BP = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class SaleLine:
    amount_minor: int
    commission_bp: int
    career_points_bp: int


@dataclass(frozen=True, slots=True)
class Sale:
    source_type: SourceType
    source_id: uuid.UUID
    buyer_user_id: uuid.UUID
    currency: str
    lines: list[SaleLine] = field(default_factory=list)
    paid_at: datetime | None = None
    """When it was paid, if booked later than that (its month is the commissions' and the
    volume's period); now when None."""

    @property
    def commissionable(self) -> Decimal:
        """Exact volume the plan's rates apply to, in major units (never rounded here)."""
        return sum(
            (Decimal(ln.amount_minor) / HUNDRED * ln.commission_bp / BP for ln in self.lines),
            Decimal(0),
        )

    @property
    def amount_minor(self) -> int:
        return sum(ln.amount_minor for ln in self.lines)

    @property
    def points_volume(self) -> Decimal:
        return sum(
            (Decimal(ln.amount_minor) / HUNDRED * ln.career_points_bp / BP for ln in self.lines),
            Decimal(0),
        )


def commission_shares(status: str, net_minor: int, career_points: int) -> Shares:
    """What a commission in `status` adds to its partner's balances."""
    if status in (CommissionStatus.PENDING, CommissionStatus.HELD):
        return Shares(pending=net_minor, career_points=career_points)
    if status in (CommissionStatus.APPROVED, CommissionStatus.PAID):
        return Shares(available=net_minor, earned=net_minor, career_points=career_points)
    return Shares()


async def commission_moved(
    ledger: LedgerService,
    row: Commission,
    kind: str,
    before: Shares,
    admin_id: uuid.UUID | None = None,
) -> LedgerEntry:
    """Posts the difference between the shares the commission had (`before`) and has now."""
    after = commission_shares(row.status, row.net_minor, row.career_points)
    return await ledger.post(
        row.partner_id, kind, after - before, commission_id=row.id, admin_id=admin_id
    )


def plan_version(rates: list[Decimal]) -> str:
    """The plan a commission was computed under, written out: its level rates in percent,
    level 1 first (`50/20/10/10/10`); a plan too long for that is named by its digest."""
    text = "/".join(json_text(rate) for rate in rates)
    if len(text) <= PLAN_VERSION_LENGTH:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[: PLAN_VERSION_LENGTH - 7]


PLAN_VERSION_LENGTH = 64


def plan_amount_of(base_minor: int, rate_bp: int) -> int:
    """base x rate, ROUND_HALF_UP: the ceiling of a commission recorded without its own."""
    return to_minor(from_minor(base_minor) * rate_bp / BP)


def rank_plan_version(version: str) -> str:
    """A bonus's plan: the rank plan's version."""
    return f"ranks:{version}"


def period_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


class CommissionEngine:
    """Creates, reverses and settles commissions. Never commits."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._ledger = LedgerService(session)
        self._network = NetworkService(session, settings)

    def net_of(self, gross_minor: int) -> int:
        """What the partner gets of `gross_minor` after the configured withholding."""
        withheld = to_minor(
            from_minor(gross_minor) * self._settings.commission_withholding_percent / HUNDRED
        )
        return gross_minor - withheld

    async def on_sale(self, sale: Sale) -> list[Commission]:
        """One PENDING commission per plan level, paid to the nearest ACTIVE upline partners
        (level 1 = the buyer's sponsor, or the first ACTIVE one above him: compression). A
        buyer without a partner profile earns nobody anything."""
        return await self.on_sales([sale])

    async def defer(self, sale: Sale) -> None:
        """Books `sale` after this transaction instead of in it: a pending row here, booked
        by `book_pending_sales` once the transaction has committed (right after the answer,
        or by the scheduler's sweep after a crash). A payment's transaction then takes no
        partner lock, for which every sale under the same upline would wait."""
        self._db.add(
            PendingSale(
                source_type=sale.source_type,
                source_id=sale.source_id,
                buyer_user_id=sale.buyer_user_id,
                currency=sale.currency,
                lines=[
                    [ln.amount_minor, ln.commission_bp, ln.career_points_bp] for ln in sale.lines
                ],
            )
        )
        after_commit(self._db, "book-pending-sales", book_soon)

    async def forget_pending(self, source_type: SourceType, source_id: uuid.UUID) -> bool:
        """Takes a sale that was not booked yet out of the queue: True when it was waiting
        (then no commission and no volume of it exist to reverse). The booker deletes the
        rows it books, so of the two only one finds the row."""
        gone = await self._db.execute(
            delete(PendingSale)
            .where(PendingSale.source_type == source_type, PendingSale.source_id == source_id)
            .returning(PendingSale.id)
            .execution_options(synchronize_session=False)
        )
        return gone.first() is not None

    async def book_pending(self, limit: int) -> int:
        """Books up to `limit` waiting sales, oldest first, and deletes their rows; rows that
        another booker or a cancel holds are skipped (theirs to finish)."""
        batch = (
            select(PendingSale.id)
            .order_by(PendingSale.created_at, PendingSale.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (
            await self._db.execute(
                delete(PendingSale)
                .where(PendingSale.id.in_(batch.scalar_subquery()))
                .returning(
                    PendingSale.created_at,
                    PendingSale.source_type,
                    PendingSale.source_id,
                    PendingSale.buyer_user_id,
                    PendingSale.currency,
                    PendingSale.lines,
                )
                .execution_options(synchronize_session=False)
            )
        ).all()
        sales = [
            Sale(
                source_type=SourceType(row.source_type),
                source_id=row.source_id,
                buyer_user_id=row.buyer_user_id,
                currency=row.currency,
                lines=[SaleLine(*line) for line in row.lines],
                paid_at=row.created_at,
            )
            for row in sorted(rows, key=lambda r: (r.created_at, r.source_id))
        ]
        await self.on_sales(sales)
        return len(sales)

    async def on_sales(self, sales: Sequence[Sale]) -> list[Commission]:
        """The commissions of `sales`: their uplines locked together (one statement, in id
        order), each buyer's volume booked once, the rows written one statement per table."""
        rates = self._settings.commission_level_rates
        partners = await self._network.partner_ids_of({sale.buyer_user_id for sale in sales})
        buyers = [
            (sale, partners[sale.buyer_user_id]) for sale in sales if sale.buyer_user_id in partners
        ]
        if not buyers:
            return []
        uplines = await self._locked_uplines({buyer for _, buyer in buyers}, len(rates))
        volumes: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
        for sale, buyer in buyers:
            volumes[(buyer, period_of(sale.paid_at or clock.now()))] += sale.amount_minor
        await self._network.book_sales_volumes(volumes)
        version = plan_version(rates)
        made: list[Commission] = []
        bonused: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for sale, buyer in buyers:
            upline = uplines[buyer]
            volume = sale.commissionable
            points = to_whole(sale.points_volume)
            for paid in upline:
                rate = rates[paid.level - 1]
                gross = to_minor(volume * rate / HUNDRED)
                if gross == 0 and points == 0:
                    continue
                made.append(
                    self._new(
                        at=sale.paid_at,
                        partner_id=paid.partner_id,
                        source_type=sale.source_type,
                        source_id=sale.source_id,
                        source_partner_id=buyer,
                        level=paid.level,
                        base_minor=to_minor(volume),
                        rate_bp=to_minor(rate),
                        version=version,
                        rule="LEVEL" if paid.level == paid.depth else "LEVEL_COMPRESSED",
                        gross=gross,
                        points=points,
                        currency=sale.currency,
                    )
                )
            sponsor = next((u for u in upline if u.depth == 1), None)
            if sale.source_type != SourceType.ORDER or sponsor is None:
                continue
            # A buyer's first order and his second in the same batch: one bonus.
            if (sponsor.partner_id, buyer) in bonused:
                continue
            bonus = await self._fast_start(sale, buyer, sponsor.partner_id)
            if bonus is not None:
                bonused.add((sponsor.partner_id, buyer))
                made.append(bonus)
        await self._create_all(made)
        return made

    def _new(
        self,
        *,
        partner_id: uuid.UUID,
        source_type: SourceType,
        source_id: uuid.UUID,
        source_partner_id: uuid.UUID | None,
        level: int | None,
        base_minor: int,
        rate_bp: int,
        version: str,
        rule: str,
        gross: int,
        points: int,
        currency: str,
        at: datetime | None = None,
    ) -> Commission:
        """A new PENDING commission with how it was computed, not saved yet
        (`_create_all`); made `at` the sale's payment when it is booked later."""
        now = clock.now()
        made = at or now
        return Commission(
            partner_id=partner_id,
            source_type=source_type,
            source_id=source_id,
            source_partner_id=source_partner_id,
            level_depth=level,
            base_minor=base_minor,
            rate_bp=rate_bp,
            plan_version=version,
            rule=rule,
            plan_amount_minor=gross,
            gross_minor=gross,
            net_minor=self.net_of(gross),
            career_points=points,
            currency=currency,
            status=CommissionStatus.PENDING,
            period_id=period_of(made),
            created_at=made,
            updated_at=now,
        )

    async def _create_all(self, rows: list[Commission]) -> None:
        """Saves new commissions with their ledger entries and events: one statement per
        table for all of them, as a sale's upline stays locked until the commit. The caller
        holds the partners' locks."""
        if not rows:
            return
        self._db.add_all(rows)
        await self._db.flush()
        await self._ledger.post_all(
            [
                self._ledger.entry(
                    row.partner_id,
                    "COMMISSION_CREATED",
                    commission_shares(row.status, row.net_minor, row.career_points),
                    commission_id=row.id,
                )
                for row in rows
            ]
        )
        await publish_all(self._db, [commission_event(row, None) for row in rows])

    async def _fast_start(
        self, sale: Sale, buyer: uuid.UUID, sponsor: uuid.UUID
    ) -> Commission | None:
        """BONUS to the ACTIVE sponsor on the buyer's first paid shop order (unsaved): the
        plan's fast-start percent of the order's amount, once per (sponsor, buyer) ever (a
        refund reverses it and forfeits it). Both rows are locked by the sale."""
        plan = RankService(self._db, self._settings).plan()
        gross = to_minor(from_minor(sale.amount_minor) * plan.fast_start_percent / HUNDRED)
        if gross <= 0:
            return None
        earlier = await self._db.scalar(
            select(Commission.id).where(
                Commission.partner_id == sponsor,
                Commission.source_partner_id == buyer,
                Commission.source_type == SourceType.BONUS,
                Commission.corrects_id.is_(None),
            )
        )
        if earlier is not None:
            return None
        return self._new(
            at=sale.paid_at,
            partner_id=sponsor,
            source_type=SourceType.BONUS,
            source_id=sale.source_id,
            source_partner_id=buyer,
            level=1,
            base_minor=sale.amount_minor,
            rate_bp=to_minor(plan.fast_start_percent),
            version=rank_plan_version(plan.version),
            rule="FAST_START",
            gross=gross,
            points=0,
            currency=sale.currency,
        )

    async def qualify_ranks(
        self, period: str, *, allow_open: bool = False, on_progress: OnProgress = silent
    ) -> QualificationReport:
        """Qualifies a month's ranks (once) and pays a RANK_BONUS for every rank a partner
        reaches for the first time, in the same transaction."""
        ranks = RankService(self._db, self._settings)
        report, promotions = await ranks.qualify(
            period, allow_open=allow_open, on_progress=on_progress
        )
        plan = ranks.plan()
        for done, promotion in enumerate(promotions):
            on_progress("rank bonuses", done, len(promotions))
            bonuses: list[Commission] = []
            for rule in promotion.ranks:
                gross = to_minor(rule.bonus)
                if gross <= 0:
                    continue
                bonuses.append(
                    self._new(
                        partner_id=promotion.partner_id,
                        source_type=SourceType.RANK_BONUS,
                        source_id=promotion.change_id,
                        source_partner_id=None,
                        level=None,
                        base_minor=gross,
                        rate_bp=10_000,
                        version=rank_plan_version(plan.version),
                        rule=f"RANK:{rule.code}",
                        gross=gross,
                        points=0,
                        currency=self._settings.currency,
                    )
                )
            await self._create_all(bonuses)
        on_progress("rank bonuses", len(promotions), len(promotions))
        return report

    async def _locked_uplines(
        self, buyers: set[uuid.UUID], levels: int
    ) -> dict[uuid.UUID, list[UplineLevel]]:
        """Each buyer's compressed upline, all their rows and the buyers' locked in id order
        by one statement. A status change takes the partner's lock: if one slipped in
        between the read and the locks, read again (the locks already held keep the next
        read stable)."""
        while True:
            uplines = await self._network.uplines(buyers, levels)
            paid = {u.partner_id for upline in uplines.values() for u in upline}
            statuses = await self._network.lock_partners(paid | buyers)
            if all(statuses.get(p) == PartnerStatus.ACTIVE for p in paid):
                return uplines

    async def reverse_source(
        self,
        source_type: SourceType,
        source_id: uuid.UUID,
        admin: Principal | None = None,
        *,
        buyer_user_id: uuid.UUID | None = None,
        volume_minor: int = 0,
    ) -> list[Commission]:
        """Clawback of a cancelled or refunded sale: open commissions become REVERSED, a PAID
        one gets a negative correcting commission (history is never rewritten); the
        buyer's sales volume loses `volume_minor`."""
        rows = list(
            await self._db.scalars(
                select(Commission)
                .where(
                    # A shop order's fast-start bonus goes with it.
                    Commission.source_type.in_((source_type, SourceType.BONUS)),
                    Commission.source_id == source_id,
                    Commission.corrects_id.is_(None),
                )
                .order_by(Commission.partner_id, Commission.id)
            )
        )
        changed: list[Commission] = []
        admin_id = admin.user_id if admin else None
        buyer = (
            await self._network.partner_id_of(buyer_user_id) if buyer_user_id is not None else None
        )
        await self._network.lock_partners(
            {r.partner_id for r in rows} | ({buyer} if buyer else set())
        )
        if buyer is not None:
            await self._network.book_sales_volume(buyer, -volume_minor)
        for stale in rows:
            row = await self.lock(stale.id)
            if row.status == CommissionStatus.REVERSED:
                continue
            if row.status == CommissionStatus.PAID:
                if await self._db.scalar(
                    select(Commission.id).where(Commission.corrects_id == row.id)
                ):
                    continue
                changed.append(await self._correct(row, admin_id))
                continue
            before = commission_shares(row.status, row.net_minor, row.career_points)
            totals_before = (str(row.status), row.net_minor)
            row.status = CommissionStatus.REVERSED
            row.adjusted_at = clock.now()
            row.adjusted_by = admin_id
            row.adjust_reason = f"{source_type.value} {source_id} cancelled or refunded"
            await commission_moved(self._ledger, row, "COMMISSION_REVERSED", before, admin_id)
            await publish(self._db, commission_event(row, totals_before))
            changed.append(row)
        return changed

    async def _correct(self, paid: Commission, admin_id: uuid.UUID | None) -> Commission:
        now = clock.now()
        row = Commission(
            partner_id=paid.partner_id,
            source_type=paid.source_type,
            source_id=paid.source_id,
            source_partner_id=paid.source_partner_id,
            level_depth=paid.level_depth,
            base_minor=-paid.base_minor,
            rate_bp=paid.rate_bp,
            plan_version=paid.plan_version,
            rule=paid.rule,
            plan_amount_minor=-paid.gross_minor,
            gross_minor=-paid.gross_minor,
            net_minor=-paid.net_minor,
            career_points=-paid.career_points,
            currency=paid.currency,
            status=CommissionStatus.APPROVED,
            period_id=period_of(now),
            corrects_id=paid.id,
            processed_at=now,
            approved_by=admin_id,
            adjust_reason="Correction of a paid commission",
            created_at=now,
            updated_at=now,
        )
        self._db.add(row)
        await self._db.flush()
        await commission_moved(
            self._ledger, row, "COMMISSION_CORRECTION", commission_shares("", 0, 0), admin_id
        )
        await publish(self._db, commission_event(row, None))
        return row

    async def lock(self, commission_id: uuid.UUID) -> Commission:
        """The commission, locked and fresh (take its partner's lock first)."""
        row = await self._db.scalar(
            select(Commission)
            .where(Commission.id == commission_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise CommissionNotFound()
        return row

    async def settle_paid(self, partner_id: uuid.UUID, withdrawn_minor: int) -> int:
        """Marks APPROVED commissions PAID, oldest first, while completed payouts
        (`withdrawn_minor`) cover them. The caller holds the partner's lock."""
        paid = int(
            await self._db.scalar(
                select(func.coalesce(func.sum(Commission.net_minor), 0)).where(
                    Commission.partner_id == partner_id,
                    Commission.status == CommissionStatus.PAID,
                )
            )
            or 0
        )
        approved = await self._db.scalars(
            select(Commission)
            .where(
                Commission.partner_id == partner_id,
                Commission.status == CommissionStatus.APPROVED,
            )
            .order_by(Commission.created_at, Commission.id)
            .with_for_update()
        )
        settled = 0
        now = clock.now()
        for row in approved:
            if paid + row.net_minor > withdrawn_minor:
                break
            before = commission_shares(row.status, row.net_minor, row.career_points)
            totals_before = (str(row.status), row.net_minor)
            row.status = CommissionStatus.PAID
            row.processed_at = now
            paid += row.net_minor
            await commission_moved(self._ledger, row, "COMMISSION_PAID", before)
            await publish(self._db, commission_event(row, totals_before))
            settled += 1
        return settled


async def book_pending_sales(resources: Resources, batch: int = 200) -> int:
    """Books every sale waiting for it (`CommissionEngine.defer`), `batch` per
    transaction; how many were booked. Safe in several processes at once."""
    booked = 0
    while True:
        async with resources.sessionmaker.begin() as db:
            done = await CommissionEngine(db, resources.settings).book_pending(batch)
        booked += done
        if done < batch:
            return booked


class _Booker:
    """The process's one booking loop: the sales paid by concurrent requests are booked by
    one pass after another, never by one booker per request (they would all queue on the
    same upline's row locks). Across processes, bookers skip each other's rows."""

    def __init__(self) -> None:
        self._loop: asyncio.Task[None] | None = None
        self._waiting: list[asyncio.Future[None]] = []

    async def book(self, resources: Resources) -> None:
        """Returns once a pass that began after this call has booked what was waiting."""
        booked = asyncio.get_running_loop().create_future()
        self._waiting.append(booked)
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._passes(resources), name="iwm-sales-booker")
        await booked

    async def _passes(self, resources: Resources) -> None:
        window = resources.settings.commission_booking_window_ms / 1000
        while self._waiting:
            # The sales paid meanwhile join this pass (its cost barely grows with them).
            await asyncio.sleep(window)
            waiting, self._waiting = self._waiting, []
            try:
                await book_pending_sales(resources)
            except Exception as error:  # the waiters log it; the sweep books the rest
                for booked in waiting:
                    if not booked.done():
                        booked.set_exception(error)
                continue
            for booked in waiting:
                if not booked.done():
                    booked.set_result(None)


# One booker per database (its sessionmaker) in this process.
_bookers: "weakref.WeakKeyDictionary[object, _Booker]" = weakref.WeakKeyDictionary()


async def book_soon(resources: Resources) -> None:
    """What a transaction that deferred a sale runs after its commit (`after_commit`):
    the process's booking loop books it, with whatever else is waiting."""
    booker = _bookers.get(resources.sessionmaker)
    if booker is None:
        booker = _bookers[resources.sessionmaker] = _Booker()
    await booker.book(resources)


async def qualify_ranks(
    resources: Resources,
    period: str | None = None,
    *,
    allow_open: bool = False,
    on_progress: OnProgress = silent,
) -> QualificationReport:
    """One month's rank qualification and its bonuses in one transaction; by default the
    month before this one (what the monthly job runs)."""
    async with resources.sessionmaker.begin() as db:
        engine = CommissionEngine(db, resources.settings)
        return await engine.qualify_ranks(
            period or previous_period(clock.now()), allow_open=allow_open, on_progress=on_progress
        )
