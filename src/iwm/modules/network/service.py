"""Network partners and the sponsor tree. Never commits: the caller's transaction does.

Enrolling a partner adds its closure rows (one per ancestor, plus its own at depth 0)
after locking those ancestor rows in id order, so that concurrent enrolments queue, and
publishes `PartnerJoined`: the network projection (`projections.py`) bumps the ancestors'
`network_size`, the sponsor's `direct_referrals` and the per-level member counts.
"""

import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import ValidationFailed
from iwm.core.events import publish, publish_all
from iwm.core.listing import Listing, Sort, SortOrder, clause, equals, like_pattern, param
from iwm.core.money import from_minor
from iwm.core.principal import Principal
from iwm.core.upsert import upsert_rows
from iwm.modules.audit.service import AuditService
from iwm.modules.network import schemas as s
from iwm.modules.network.errors import AlreadyPartner, PartnerNotFound, RankNotFound
from iwm.modules.network.events import PartnerJoined, PartnerStatusChanged, SalesVolumeBooked
from iwm.modules.network.models import (
    NetworkLevel,
    NetworkPartner,
    NetworkTreeEdge,
    PartnerPeriodVolume,
    PartnerRank,
    PartnerStatus,
)
from iwm.modules.users.models import User, display_name, full_name_sql
from iwm.modules.users.service import UserService

# Unambiguous characters only (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
MAX_DEPTH = 10
ZERO = Decimal("0.00")

# The network page's statements, built once: an alias and three selects built per request
# cost several times the CPU of their SQL (served by the closure index alone).
# The partner's name with its per-level counts (one row per level, or one row of NULLs).
_LEVELS_OF = (
    select(
        NetworkPartner.id.label("partner_id"),
        User.first_name,
        User.last_name,
        User.email,
        NetworkLevel.depth,
        NetworkLevel.members,
        NetworkLevel.volume_minor,
    )
    .select_from(NetworkPartner)
    .join(User, User.id == NetworkPartner.user_id)
    .outerjoin(
        NetworkLevel,
        and_(
            NetworkLevel.ancestor_id == NetworkPartner.id,
            NetworkLevel.depth <= bindparam("depth"),
            NetworkLevel.members > 0,
        ),
    )
    .order_by(NetworkLevel.depth)
)
_NETWORK_LEVELS = _LEVELS_OF.where(NetworkPartner.id == bindparam("partner_id"))
# The same for the partner profile of a user (a member's own network).
_MEMBER_LEVELS = _LEVELS_OF.where(NetworkPartner.user_id == bindparam("user_id"))
_edge = aliased(NetworkTreeEdge, name="edge")
# A partner's downline, level by level in join order: the closure index gives the page in
# order, each of its rows then joined to what it shows.
DOWNLINE = Listing(
    rows=select(
        NetworkPartner.id,
        User.first_name,
        User.last_name,
        User.email,
        NetworkPartner.referral_code,
        _edge.depth,
        NetworkPartner.status,
        PartnerRank.name.label("rank"),
        NetworkPartner.direct_referrals,
        NetworkPartner.sales_volume_minor,
        NetworkPartner.created_at,
    )
    .select_from(_edge)
    .join(NetworkPartner, NetworkPartner.id == _edge.descendant_id)
    .join(User, User.id == NetworkPartner.user_id)
    .outerjoin(PartnerRank, PartnerRank.id == NetworkPartner.rank_id),
    key=_edge.descendant_id,
    base=_edge,
    filters=[
        equals("partner_id", _edge.ancestor_id),
        clause("depth", and_(_edge.depth >= 1, _edge.depth <= param("depth"))),
    ],
    sorts={"tree": Sort(_edge.depth, then=(_edge.descendant_joined_at,))},
    default_sort="tree",
    ids_first=False,
)


# (level, members, sales volume in minor units) per level below a partner.
Levels = list[tuple[int, int, int]]


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True, slots=True)
class UplineLevel:
    """An ancestor paid at plan `level`; `depth` is its distance in the tree (greater
    than `level` when inactive partners below it were passed over)."""

    partner_id: uuid.UUID
    level: int
    depth: int


@dataclass(frozen=True, slots=True)
class PartnerFilters:
    status: PartnerStatus | None = None
    rank: str | None = None
    search: str | None = None
    sort_by: s.PartnerSortField = s.PartnerSortField.CREATED_AT
    sort_order: SortOrder = SortOrder.DESC


# The admin's partners list. The count and the filters read partners alone: counting
# 200,000 partners must not join a million users for nothing. The referral code is stored
# upper-case, the searched names lower-case.
PARTNERS = Listing(
    rows=select(NetworkPartner, User).join(User, User.id == NetworkPartner.user_id),
    key=NetworkPartner.id,
    base=NetworkPartner,
    filters=[
        equals("status", NetworkPartner.status),
        clause(
            "rank",
            NetworkPartner.rank_id.in_(
                select(PartnerRank.id).where(PartnerRank.code == param("rank"))
            ),
        ),
        clause(
            "search",
            or_(
                NetworkPartner.user_id.in_(
                    select(User.id).where(full_name_sql().like(param("search"), escape="\\"))
                ),
                NetworkPartner.referral_code.like(func.upper(param("search")), escape="\\"),
            ),
            to_param=like_pattern,
        ),
    ],
    sorts={
        s.PartnerSortField.CREATED_AT: NetworkPartner.created_at,
        s.PartnerSortField.TOTAL_EARNED: NetworkPartner.total_earned_minor,
        s.PartnerSortField.NETWORK_SIZE: NetworkPartner.network_size,
    },
    default_sort=s.PartnerSortField.CREATED_AT,
    ids_first=False,
    entities=True,
)


class NetworkService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings

    # -- enrolment and ranks -------------------------------------------------------------

    async def enroll(
        self,
        user_id: uuid.UUID,
        sponsor_id: uuid.UUID | None = None,
        status: PartnerStatus = PartnerStatus.ACTIVE,
    ) -> NetworkPartner:
        """Makes a user a network partner under `sponsor_id`. Raises USER_NOT_FOUND,
        PARTNER_NOT_FOUND (sponsor), ALREADY_PARTNER."""
        await UserService(self._db).get(user_id)
        taken = await self._db.execute(
            select(NetworkPartner.id).where(NetworkPartner.user_id == user_id)
        )
        if taken.first() is not None:
            raise AlreadyPartner()
        sponsor = None
        if sponsor_id is not None:
            sponsor = await self._db.get(NetworkPartner, sponsor_id)
            if sponsor is None:
                raise PartnerNotFound("Sponsor not found")
        now = clock.now()
        partner = NetworkPartner(
            id=uuid.uuid4(),
            user_id=user_id,
            referral_code=await self._unused_code(),
            sponsor_id=sponsor_id,
            status=status,
            activated_at=now if status is PartnerStatus.ACTIVE else None,
            depth=sponsor.depth + 1 if sponsor else 0,
            created_at=now,
        )
        self._db.add(partner)
        await self._db.flush()
        own = NetworkTreeEdge(
            descendant_id=partner.id, ancestor_id=partner.id, depth=0, descendant_joined_at=now
        )
        if sponsor is None:
            self._db.add(own)
            await self._db.flush()
            await publish(
                self._db, PartnerJoined(partner_id=partner.id, sponsor_id=None, upline=())
            )
            return partner
        ancestors = list(
            (
                await self._db.execute(
                    select(NetworkTreeEdge.ancestor_id, NetworkTreeEdge.depth).where(
                        NetworkTreeEdge.descendant_id == sponsor.id
                    )
                )
            ).all()
        )
        ancestor_ids = sorted(a for a, _ in ancestors)
        await self._db.execute(
            select(NetworkPartner.id)
            .where(NetworkPartner.id.in_(ancestor_ids))
            .order_by(NetworkPartner.id)
            .with_for_update()
        )
        self._db.add_all(
            [
                NetworkTreeEdge(
                    descendant_id=partner.id, ancestor_id=a, depth=d + 1, descendant_joined_at=now
                )
                for a, d in ancestors
            ]
            + [own]
        )
        await self._db.flush()
        await publish(
            self._db,
            PartnerJoined(
                partner_id=partner.id,
                sponsor_id=sponsor.id,
                upline=tuple(sorted((a, d + 1) for a, d in ancestors)),
            ),
        )
        return partner

    async def book_sales_volume(
        self, partner_id: uuid.UUID, delta_minor: int, period: str | None = None
    ) -> None:
        """Adds (or, negative, removes) personal sales volume of a partner
        (`book_sales_volumes`), in `period` (this month by default)."""
        await self.book_sales_volumes(
            {(partner_id, period or clock.now().strftime("%Y-%m")): delta_minor}
        )

    async def book_sales_volumes(self, volumes: Mapping[tuple[uuid.UUID, str], int]) -> None:
        """Adds (negative: removes) personal sales volume by (partner, period): to each
        partner's total, its months' rows and its uplines' per-level rows
        (`SalesVolumeBooked`), one statement each for all of them. The caller holds the
        partners' locks."""
        moved = {key: delta for key, delta in sorted(volumes.items()) if delta}
        if not moved:
            return
        per_partner: dict[uuid.UUID, int] = defaultdict(int)
        for (partner_id, _), delta in moved.items():
            per_partner[partner_id] += delta
        totals = [(p, d) for p, d in sorted(per_partner.items()) if d]
        if totals:
            await self._db.execute(
                _ADD_SALES_VOLUME,
                [{"partner": p, "delta": d} for p, d in totals],
            )
        await upsert_rows(
            self._db,
            PartnerPeriodVolume,
            [
                {"partner_id": partner_id, "period": period, "volume_minor": delta}
                for (partner_id, period), delta in moved.items()
            ],
            key=["partner_id", "period"],
            add=["volume_minor"],
        )
        await publish_all(
            self._db, [SalesVolumeBooked(partner_id=p, delta_minor=d) for p, d in totals]
        )

    async def _unused_code(self) -> str:
        while True:
            code = new_referral_code()
            used = await self._db.execute(
                select(NetworkPartner.id).where(NetworkPartner.referral_code == code)
            )
            if used.first() is None:
                return code

    async def ensure_rank(self, code: str, name: str, level: int) -> PartnerRank:
        rank = (
            await self._db.execute(select(PartnerRank).where(PartnerRank.code == code))
        ).scalar_one_or_none()
        if rank is None:
            rank = PartnerRank(id=uuid.uuid4(), code=code, name=name, level=level)
            self._db.add(rank)
            await self._db.flush()
        return rank

    async def set_rank(self, partner_id: uuid.UUID, rank_code: str | None) -> NetworkPartner:
        """Raises PARTNER_NOT_FOUND, RANK_NOT_FOUND; keeps the highest rank reached. None
        takes the current rank away (the highest stays)."""
        partner = await self.get(partner_id)
        if rank_code is None:
            partner.rank_id = None
            await self._db.flush()
            return partner
        rank = (
            await self._db.execute(select(PartnerRank).where(PartnerRank.code == rank_code))
        ).scalar_one_or_none()
        if rank is None:
            raise RankNotFound()
        partner.rank_id = rank.id
        highest = (
            await self._db.get(PartnerRank, partner.highest_rank_id)
            if partner.highest_rank_id
            else None
        )
        if highest is None or rank.level > highest.level:
            partner.highest_rank_id, partner.highest_rank_at = rank.id, clock.now()
        await self._db.flush()
        return partner

    # -- for the money modules: the upline and the partner locks -------------------------

    async def partner_id_of(self, user_id: uuid.UUID) -> uuid.UUID | None:
        """The id of the user's partner profile, if it has one."""
        conn = await self._db.connection()  # a plain statement: every member read runs it
        return (await conn.execute(_PARTNER_OF, {"user_id": user_id})).scalar()

    async def partner_ids_of(self, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """The partner profile ids of those of the users that have one, by user id."""
        if not user_ids:
            return {}
        rows = await self._db.execute(
            select(NetworkPartner.user_id, NetworkPartner.id).where(
                NetworkPartner.user_id.in_(sorted(user_ids))
            )
        )
        return {row.user_id: row.id for row in rows}

    async def uplines(
        self, partner_ids: set[uuid.UUID], levels: int
    ) -> dict[uuid.UUID, list[UplineLevel]]:
        """Each partner's `levels` paid levels above him, compressed: the nearest ACTIVE
        ancestors in tree order, so a SUSPENDED or TERMINATED partner's level goes to the
        next ACTIVE one above him; each list in ancestor id order (the lock order). One
        statement for all of them. Unlocked: the caller locks them (`lock_partners`) and
        checks their statuses under the locks."""
        edge = NetworkTreeEdge
        ranked = (
            select(
                edge.descendant_id,
                edge.ancestor_id,
                edge.depth,
                func.row_number()
                .over(partition_by=edge.descendant_id, order_by=edge.depth)
                .label("level"),
            )
            .join(NetworkPartner, NetworkPartner.id == edge.ancestor_id)
            .where(
                edge.descendant_id.in_(sorted(partner_ids)),
                edge.depth >= 1,
                NetworkPartner.status == PartnerStatus.ACTIVE,
            )
            .subquery()
        )
        rows = await self._db.execute(select(ranked).where(ranked.c.level <= levels))
        found: dict[uuid.UUID, list[UplineLevel]] = {p: [] for p in partner_ids}
        for descendant, ancestor, depth, level in rows:
            found[descendant].append(UplineLevel(ancestor, level, depth))
        # Partner rows are updated in id order: concurrent sales never deadlock.
        return {p: sorted(ups, key=lambda u: u.partner_id) for p, ups in found.items()}

    async def set_status(
        self, admin: Principal, partner_id: uuid.UUID, status: PartnerStatus, reason: str
    ) -> tuple[NetworkPartner, str]:
        """SUPER_ADMIN: ACTIVE, SUSPENDED or TERMINATED with a reason, audited; returns the
        partner and its previous status. PARTNER_NOT_FOUND; the status it already has is a
        400 on `status`. Takes the partner's lock, which every sale takes on its upline."""
        partner = await self.lock_partner(partner_id)
        if partner is None:
            raise PartnerNotFound()
        previous = str(partner.status)
        if previous == status:
            raise ValidationFailed(details={"status": [f"the partner is already {status}"]})
        partner.status = status
        if status is PartnerStatus.ACTIVE and partner.activated_at is None:
            partner.activated_at = clock.now()
        partner.updated_at = clock.now()
        await self._db.flush()
        AuditService(self._db).record(
            admin,
            "PARTNER_STATUS_CHANGED",
            "partner",
            partner.id,
            previous={"status": previous},
            new={"status": str(status), "reason": reason},
        )
        await publish(
            self._db,
            PartnerStatusChanged(partner_id=partner.id, previous=previous, status=str(status)),
        )
        return partner, previous

    async def lock_partners(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Locks partner rows in id order, before any of them is updated; their statuses
        as read under the locks."""
        rows = await self._db.execute(
            select(NetworkPartner.id, NetworkPartner.status)
            .where(NetworkPartner.id.in_(sorted(ids)))
            .order_by(NetworkPartner.id)
            .with_for_update()
        )
        return {partner: str(status) for partner, status in rows}

    async def lock_partner(self, partner_id: uuid.UUID) -> NetworkPartner | None:
        """The partner row, locked and fresh: the money modules take this lock first (the
        fixed lock order is partner -> payout -> commissions)."""
        return await self._db.scalar(
            select(NetworkPartner)
            .where(NetworkPartner.id == partner_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    # -- reads ---------------------------------------------------------------------------

    async def get(self, partner_id: uuid.UUID) -> NetworkPartner:
        partner = await self._db.get(NetworkPartner, partner_id)
        if partner is None:
            raise PartnerNotFound()
        return partner

    async def list(
        self, filters: PartnerFilters, page: int, page_size: int
    ) -> tuple[list[s.AdminPartnerItem], int]:
        found = await PARTNERS.page(
            self._db,
            {"status": filters.status, "rank": filters.rank, "search": filters.search or None},
            page=page,
            page_size=page_size,
            sort_by=filters.sort_by,
            sort_order=filters.sort_order,
        )
        total = found.total
        rows = [(r.NetworkPartner, r.User) for r in found.rows]
        ranks = await self.ranks({p.rank_id for p, _ in rows})
        sponsors = await self.sponsors({p.sponsor_id for p, _ in rows})
        items = []
        for p, u in rows:
            rank = ranks.get(p.rank_id) if p.rank_id else None
            sponsor = sponsors.get(p.sponsor_id) if p.sponsor_id else None
            items.append(
                s.AdminPartnerItem(
                    id=p.id,
                    user=s.PartnerUser(id=u.id, email=u.email, name=u.full_name),
                    referral_code=p.referral_code,
                    status=p.status,
                    rank=s.RankRef(name=rank.name, code=rank.code) if rank else None,
                    sponsor=s.SponsorRef(id=sponsor[0].id, name=sponsor[1]) if sponsor else None,
                    stats=s.ListStats(
                        direct_referrals=p.direct_referrals,
                        network_size=p.network_size,
                        total_earned=from_minor(p.total_earned_minor),
                        total_withdrawn=from_minor(p.total_withdrawn_minor),
                        available_balance=from_minor(p.available_minor),
                        pending_balance=from_minor(p.pending_minor),
                    ),
                    joined_at=p.created_at,
                )
            )
        return items, int(total)

    async def ranks(self, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, PartnerRank]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        rows = await self._db.execute(select(PartnerRank).where(PartnerRank.id.in_(wanted)))
        return {r.id: r for r in rows.scalars()}

    async def sponsors(
        self, ids: set[uuid.UUID | None]
    ) -> dict[uuid.UUID, tuple[NetworkPartner, str]]:
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        rows = await self._db.execute(
            select(NetworkPartner, User)
            .join(User, User.id == NetworkPartner.user_id)
            .where(NetworkPartner.id.in_(wanted))
        )
        return {p.id: (p, u.full_name) for p, u in rows}

    async def _downline(
        self, owner: dict[str, Any], depth: int, page: int, page_size: int
    ) -> tuple[Any, Levels, int, Sequence[Row[Any]]]:
        """The partner's name row, its (level, members, volume) per level, the total and a
        page of descendants down to `depth` levels. `owner` names the partner by
        `partner_id` or by `user_id`. Served by the closure index alone."""
        # Plain rows, no entities: straight on the connection, past the ORM's loading.
        conn = await self._db.connection()
        # One row per level, kept at enrolment and with each sale: no downline scan.
        statement = _NETWORK_LEVELS if "partner_id" in owner else _MEMBER_LEVELS
        levels = (await conn.execute(statement, {**owner, "depth": depth})).all()
        if not levels:
            raise PartnerNotFound()
        by_level = [
            (int(row.depth), int(row.members), int(row.volume_minor))
            for row in levels
            if row.depth is not None
        ]
        total = sum(count for _, count, _ in by_level)
        found = await DOWNLINE.page(
            conn,
            {"partner_id": levels[0].partner_id, "depth": depth},
            page=page,
            page_size=page_size,
            sort_order=SortOrder.ASC,
            total=total,
        )
        return levels[0], by_level, total, found.rows

    @staticmethod
    def _stats(total: int, by_level: Levels) -> s.NetworkStats:
        return s.NetworkStats(
            total_size=total,
            by_level=[
                s.LevelStats(level=level, count=count, volume=from_minor(volume))
                for level, count, volume in by_level
            ],
        )

    async def network(
        self, partner_id: uuid.UUID, depth: int, page: int, page_size: int
    ) -> tuple[s.PartnerNetwork, int]:
        """Descendants down to `depth` levels, level by level in join order; `level` is
        the distance below the partner."""
        owner, by_level, total, rows = await self._downline(
            {"partner_id": partner_id}, depth, page, page_size
        )
        nodes = [
            s.NetworkNode(
                id=row.id,
                name=display_name(row.first_name, row.last_name, row.email),
                email=row.email,
                referral_code=row.referral_code,
                level=row.depth,
                status=row.status,
                rank=row.rank,
                direct_referrals=row.direct_referrals,
                total_volume=from_minor(row.sales_volume_minor),
                joined_at=row.created_at,
            )
            for row in rows
        ]
        return (
            s.PartnerNetwork(
                partner_id=partner_id,
                partner_name=display_name(owner.first_name, owner.last_name, owner.email),
                network=nodes,
                stats=self._stats(total, by_level),
            ),
            total,
        )

    async def member_network(
        self, user_id: uuid.UUID, depth: int, page: int, page_size: int
    ) -> tuple[s.MemberNetwork, int]:
        """The member's own downline with names only: a partner without a name shows his
        referral code, never his email address. PARTNER_NOT_FOUND before joining."""
        _, by_level, total, rows = await self._downline(
            {"user_id": user_id}, depth, page, page_size
        )
        nodes = [
            s.MemberNetworkNode(
                id=row.id,
                name=" ".join(p for p in (row.first_name, row.last_name) if p) or row.referral_code,
                level=row.depth,
                status=row.status,
                rank=row.rank,
                direct_referrals=row.direct_referrals,
                personal_volume=from_minor(row.sales_volume_minor),
                joined_at=row.created_at,
            )
            for row in rows
        ]
        return s.MemberNetwork(network=nodes, stats=self._stats(total, by_level)), total

    # -- the member's side -----------------------------------------------------------------

    async def join(self, user_id: uuid.UUID, sponsor_id: uuid.UUID | None) -> NetworkPartner:
        """The member joins the partner programme under `sponsor_id`, by default the
        partner whose referral code he signed up with (`User.sponsor_partner_id`; none: at
        the top). ALREADY_PARTNER; the user row is locked, so two joins at once make one
        partner."""
        signed_up_under = await self._db.scalar(
            select(User.sponsor_partner_id).where(User.id == user_id).with_for_update()
        )
        return await self.enroll(user_id, sponsor_id or signed_up_under)

    async def member_partner(self, user_id: uuid.UUID) -> s.MemberPartner:
        """PARTNER_NOT_FOUND before joining."""
        partner = await self._db.scalar(
            select(NetworkPartner).where(NetworkPartner.user_id == user_id)
        )
        if partner is None:
            raise PartnerNotFound()
        rank = (
            (await self.ranks({partner.rank_id})).get(partner.rank_id) if partner.rank_id else None
        )
        sponsor = (
            (await self.sponsors({partner.sponsor_id})).get(partner.sponsor_id)
            if partner.sponsor_id
            else None
        )
        return s.MemberPartner(
            id=partner.id,
            referral_code=partner.referral_code,
            referral_link=self._settings.referral_link(partner.referral_code),
            sponsor=(
                s.MemberSponsor(
                    id=sponsor[0].id, name=sponsor[1], referral_code=sponsor[0].referral_code
                )
                if sponsor
                else None
            ),
            rank=s.RankRef(name=rank.name, code=rank.code) if rank else None,
            status=partner.status,
            direct_referrals=partner.direct_referrals,
            network_size=partner.network_size,
            joined_at=partner.created_at,
        )

    async def member_balance(self, user_id: uuid.UUID) -> s.MemberBalance:
        """The balance columns the admin's partner detail shows. PARTNER_NOT_FOUND."""
        row = (await (await self._db.connection()).execute(_BALANCE, {"user_id": user_id})).first()
        if row is None:
            raise PartnerNotFound()
        return s.MemberBalance(
            available=from_minor(row.available_minor),
            pending=from_minor(row.pending_minor),
            total_earned=from_minor(row.total_earned_minor),
            total_withdrawn=from_minor(row.total_withdrawn_minor),
            currency=self._settings.currency,
        )


_PARTNER_OF = select(NetworkPartner.id).where(NetworkPartner.user_id == bindparam("user_id"))
_PARTNERS = cast(Table, NetworkPartner.__table__)
# One UPDATE run once per partner (an executemany: one round trip for a booking pass's
# buyers). On the Core table: the ORM would read a list of parameters as a bulk update by
# primary key.
_ADD_SALES_VOLUME = (
    update(_PARTNERS)
    .where(_PARTNERS.c.id == bindparam("partner"))
    .values(sales_volume_minor=_PARTNERS.c.sales_volume_minor + bindparam("delta"))
)
_BALANCE = select(
    NetworkPartner.available_minor,
    NetworkPartner.pending_minor,
    NetworkPartner.total_earned_minor,
    NetworkPartner.total_withdrawn_minor,
).where(NetworkPartner.user_id == bindparam("user_id"))
