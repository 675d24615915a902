"""The admin's cross-domain read views: the users list and one user's detail, one
partner's detail, the audit log. Read-only, and the one module allowed to read every
module's tables (the import contracts say so); a change goes through the owner's service.
"""

import builtins
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.listing import Listing, SortOrder, at_least, below, equals
from iwm.core.money import from_minor
from iwm.core.principal import Role
from iwm.core.sessions import SessionStore
from iwm.core.storage import PhotoStorage
from iwm.modules.admin_views.repository import MoneyStats, UserFilters, UserListRepository
from iwm.modules.audit.models import AuditLog
from iwm.modules.audit.schemas import AuditAdmin, AuditLogItem
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.kyc.models import KycDocument, KycHistory, KycVerification
from iwm.modules.network import schemas as ns
from iwm.modules.network.models import NetworkPartner, NetworkTreeEdge, PartnerRank, PartnerStatus
from iwm.modules.network.service import NetworkService, month_start, next_month
from iwm.modules.payouts.models import Payout
from iwm.modules.users import schemas as s
from iwm.modules.users.models import AVATAR_PREFIX, User, UserAddress, UserNote, status_at
from iwm.modules.users.service import UserService

RECENT_ACTIVITY = 10
RECENT = 5
# Statuses whose career points count (a REVERSED commission gives its points back).
POINTS_STATUSES = (
    CommissionStatus.PENDING,
    CommissionStatus.APPROVED,
    CommissionStatus.PAID,
    CommissionStatus.HELD,
)
USER_ENTITY = "user"
NO_MONEY = MoneyStats()

_ACTIVITY_TEXT = {
    "USER_UPDATED": "Account details changed by an administrator",
    "USER_SUSPENDED": "Account suspended",
    "USER_ACTIVATED": "Account reactivated",
}


class UserViews:
    def __init__(
        self, session: AsyncSession, sessions: SessionStore, storage: PhotoStorage | None = None
    ) -> None:
        self._db = session
        self._sessions = sessions
        self._storage = storage
        self._list = UserListRepository(session)
        self._users = UserService(session)

    async def list(
        self, filters: UserFilters, page: int, page_size: int
    ) -> tuple[list[s.AdminUserItem], int]:
        now = clock.now()
        rows, total = await self._list.page(filters, now, page, page_size)
        items = [
            s.AdminUserItem(
                id=r.id,
                email=r.email,
                phone=r.phone,
                status=status_at(r.status, r.suspended_until, now),
                profile=s.ListProfile(
                    first_name=r.first_name,
                    last_name=r.last_name,
                    avatar_url=await self._avatar(r.avatar_url),
                ),
                kyc=s.ListKyc(status=r.kyc_status, level=r.kyc_level),
                roles=sorted(Role(role) for role in (r.roles or "").split(",") if role),
                is_partner=bool(r.is_partner),
                stats=_list_stats(
                    MoneyStats(
                        int(r.orders_count),
                        int(r.spent_minor),
                        int(r.investments_count),
                        int(r.invested_minor),
                    )
                ),
                last_login_at=r.last_login_at,
                created_at=r.created_at,
            )
            for r in rows
        ]
        return items, total

    async def detail(self, user_id: uuid.UUID) -> s.AdminUserDetail:
        user = await self._users.get(user_id)
        kyc = await self._latest_kyc(user.id)
        partner_row = (
            await self._db.execute(select(NetworkPartner).where(NetworkPartner.user_id == user.id))
        ).scalar_one_or_none()
        partner = await self._partner(partner_row) if partner_row else None
        notes = list(
            (
                await self._db.execute(
                    select(UserNote)
                    .where(UserNote.user_id == user.id)
                    .order_by(UserNote.created_at.desc(), UserNote.id)
                )
            ).scalars()
        )
        addresses = (
            await self._db.execute(
                select(UserAddress)
                .where(UserAddress.user_id == user.id)
                .order_by(UserAddress.is_default.desc(), UserAddress.created_at)
            )
        ).scalars()
        names = await self._users.names(
            {n.created_by for n in notes} | {kyc.reviewed_by if kyc else None}
        )
        return s.AdminUserDetail(
            id=user.id,
            email=user.email,
            phone=user.phone,
            status=user.effective_status,
            profile=s.DetailProfile(
                first_name=user.first_name,
                last_name=user.last_name,
                middle_name=user.middle_name,
                date_of_birth=user.date_of_birth,
                avatar_url=await self._avatar(user.avatar_url),
                language=user.language,
                timezone=user.timezone,
            ),
            kyc=await self._kyc_view(kyc, names) if kyc else None,
            roles=sorted(user.roles),
            partner=partner,
            security=s.Security(
                two_factor_enabled=user.two_factor_enabled,
                two_factor_method=user.two_factor_method,
                email_verified_at=user.email_verified_at,
                phone_verified_at=user.phone_verified_at,
                password_changed_at=user.password_changed_at,
                active_sessions=await self._sessions.count_user(user.id, db=self._db),
            ),
            stats=s.DetailStats(
                **_list_stats(
                    (await self._list.money_stats([user.id])).get(user.id, NO_MONEY)
                ).model_dump(),
                commissions_earned=from_minor(partner_row.total_earned_minor)
                if partner_row
                else from_minor(0),
                referrals_count=partner_row.direct_referrals if partner_row else 0,
            ),
            addresses=[
                s.Address(
                    id=a.id, label=a.label, is_default=a.is_default, city=a.city, country=a.country
                )
                for a in addresses
            ],
            recent_activity=await self._recent_activity(user),
            notes=[
                s.Note(
                    id=n.id,
                    content=n.content,
                    created_by=names.get(n.created_by, "") if n.created_by else "",
                    created_at=n.created_at,
                )
                for n in notes
            ],
            last_login_at=user.last_login_at,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )

    async def _latest_kyc(self, user_id: uuid.UUID) -> KycVerification | None:
        stmt = (
            select(KycVerification)
            .where(KycVerification.user_id == user_id)
            .order_by(KycVerification.submitted_at.desc(), KycVerification.id)
            .limit(1)
        )
        return (await self._db.execute(stmt)).scalar_one_or_none()

    async def _kyc_view(self, kyc: KycVerification, names: dict[uuid.UUID, str]) -> s.DetailKyc:
        docs = (
            await self._db.execute(
                select(KycDocument)
                .where(KycDocument.verification_id == kyc.id)
                .order_by(KycDocument.uploaded_at, KycDocument.position)
            )
        ).scalars()
        return s.DetailKyc(
            id=kyc.id,
            status=kyc.status,
            level=kyc.level,
            submitted_at=kyc.submitted_at,
            reviewed_at=kyc.reviewed_at,
            reviewed_by=names.get(kyc.reviewed_by) if kyc.reviewed_by else None,
            expires_at=kyc.expires_at,
            documents=[
                s.DetailKycDocument(
                    id=d.id, type=d.type, status=d.status, uploaded_at=d.uploaded_at
                )
                for d in docs
            ],
        )

    async def _partner(self, partner: NetworkPartner) -> s.DetailPartner:
        rank = await self._db.get(PartnerRank, partner.rank_id) if partner.rank_id else None
        sponsor_name = None
        if partner.sponsor_id is not None:
            sponsor = await self._db.get(NetworkPartner, partner.sponsor_id)
            if sponsor is not None:
                sponsor_name = (await self._users.names({sponsor.user_id})).get(sponsor.user_id)
        return s.DetailPartner(
            id=partner.id,
            referral_code=partner.referral_code,
            status=partner.status,
            rank=rank.name if rank else None,
            sponsor_id=partner.sponsor_id,
            sponsor_name=sponsor_name,
            balance=s.PartnerBalance(
                available=from_minor(partner.available_minor),
                pending=from_minor(partner.pending_minor),
            ),
        )

    async def _recent_activity(self, user: User) -> builtins.list[s.Activity]:
        """Facts already recorded elsewhere: the last sign-in, admin actions on the
        account and the history of its KYC verifications."""
        items: builtins.list[s.Activity] = []
        if user.last_login_at is not None:
            items.append(
                s.Activity(type="LOGIN", description="Signed in", timestamp=user.last_login_at)
            )
        audits = await self._db.execute(
            select(AuditLog)
            .where(AuditLog.entity_type == USER_ENTITY, AuditLog.entity_id == str(user.id))
            .order_by(AuditLog.created_at.desc())
            .limit(RECENT_ACTIVITY)
        )
        items.extend(
            s.Activity(
                type=a.action,
                description=_ACTIVITY_TEXT.get(a.action, a.action.replace("_", " ").capitalize()),
                timestamp=a.created_at,
            )
            for a in audits.scalars()
        )
        history = await self._db.execute(
            select(KycHistory)
            .join(KycVerification, KycVerification.id == KycHistory.verification_id)
            .where(KycVerification.user_id == user.id)
            .order_by(KycHistory.created_at.desc())
            .limit(RECENT_ACTIVITY)
        )
        items.extend(
            s.Activity(
                type="KYC",
                description=f"KYC {h.action.lower().replace('_', ' ')}",
                timestamp=h.created_at,
            )
            for h in history.scalars()
        )
        items.sort(key=lambda a: a.timestamp, reverse=True)
        return items[:RECENT_ACTIVITY]

    async def _avatar(self, value: str | None) -> str | None:
        """A member's uploaded avatar is a storage key: shown as its (signed) URL."""
        if value and value.startswith(AVATAR_PREFIX) and self._storage is not None:
            return await self._storage.url(value)
        return value


def _list_stats(money: MoneyStats) -> s.ListStats:
    return s.ListStats(
        orders_count=money.orders_count,
        total_spent=from_minor(money.spent_minor),
        investments_count=money.investments_count,
        total_invested=from_minor(money.invested_minor),
    )


class PartnerViews:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._network = NetworkService(session, settings)

    async def detail(self, partner_id: uuid.UUID) -> ns.AdminPartnerDetail:
        partner = await self._network.get(partner_id)
        user = await UserService(self._db).get(partner.user_id)
        ranks = await self._network.ranks({partner.rank_id, partner.highest_rank_id})
        rank = ranks.get(partner.rank_id) if partner.rank_id else None
        highest = ranks.get(partner.highest_rank_id) if partner.highest_rank_id else None
        sponsor = (
            (await self._network.sponsors({partner.sponsor_id})).get(partner.sponsor_id)
            if (partner.sponsor_id)
            else None
        )
        tree_depth = (
            await self._db.execute(
                select(func.max(NetworkTreeEdge.depth)).where(
                    NetworkTreeEdge.ancestor_id == partner.id
                )
            )
        ).scalar_one()
        active = (
            await self._db.execute(
                select(func.count()).where(
                    NetworkPartner.sponsor_id == partner.id,
                    NetworkPartner.status == PartnerStatus.ACTIVE,
                )
            )
        ).scalar_one()
        money = await self._money_facts(partner.id)
        return ns.AdminPartnerDetail(
            id=partner.id,
            user=ns.DetailUser(
                id=user.id,
                email=user.email,
                name=user.full_name,
                phone=user.phone,
                status=user.effective_status,
            ),
            referral_code=partner.referral_code,
            status=partner.status,
            rank=ns.DetailRank(id=rank.id, name=rank.name, code=rank.code, level=rank.level)
            if rank
            else None,
            highest_rank=ns.HighestRank(
                name=highest.name, code=highest.code, achieved_at=partner.highest_rank_at
            )
            if highest and partner.highest_rank_at
            else None,
            sponsor=ns.DetailSponsor(
                id=sponsor[0].id, name=sponsor[1], referral_code=sponsor[0].referral_code
            )
            if sponsor
            else None,
            balance=ns.Balance(
                available=from_minor(partner.available_minor),
                pending=from_minor(partner.pending_minor),
                total_earned=from_minor(partner.total_earned_minor),
                total_withdrawn=from_minor(partner.total_withdrawn_minor),
                career_points_total=partner.career_points_total,
                career_points_period=money.points_period,
                currency=self._settings.currency,
            ),
            stats=ns.DetailStats(
                direct_referrals=partner.direct_referrals,
                network_size=partner.network_size,
                tree_depth=int(tree_depth or 0),
                active_referrals=int(active),
                commissions_count=money.commissions_count,
                payouts_count=money.payouts_count,
            ),
            payout_details=money.payout_details,
            recent_commissions=money.recent_commissions,
            recent_payouts=money.recent_payouts,
            joined_at=partner.created_at,
            activated_at=partner.activated_at,
        )

    async def _money_facts(self, partner_id: uuid.UUID) -> "_MoneyFacts":
        """Counts, the latest commissions and payouts, and the career points of the current
        calendar month (UTC): every query is a range of the (partner, created) indexes."""
        start = month_start(clock.now().astimezone(UTC))
        points = await self._db.scalar(
            select(func.coalesce(func.sum(Commission.career_points), 0)).where(
                Commission.partner_id == partner_id,
                Commission.created_at >= start,
                Commission.created_at < next_month(start),
                Commission.status.in_(POINTS_STATUSES),
            )
        )
        commissions_count = await self._db.scalar(
            select(func.count()).where(Commission.partner_id == partner_id)
        )
        payouts_count = await self._db.scalar(
            select(func.count()).where(Payout.partner_id == partner_id)
        )
        commissions = await self._db.scalars(
            select(Commission)
            .where(Commission.partner_id == partner_id)
            .order_by(Commission.created_at.desc(), Commission.id.desc())
            .limit(RECENT)
        )
        payouts = list(
            await self._db.scalars(
                select(Payout)
                .where(Payout.partner_id == partner_id)
                .order_by(Payout.created_at.desc(), Payout.id.desc())
                .limit(RECENT)
            )
        )
        latest = payouts[0] if payouts else None
        return _MoneyFacts(
            points_period=int(points or 0),
            commissions_count=int(commissions_count or 0),
            payouts_count=int(payouts_count or 0),
            payout_details=ns.PayoutDetails(
                method=latest.method_type,
                masked_details=latest.masked_details,
                last_updated=latest.created_at,
            )
            if latest
            else None,
            recent_commissions=[
                ns.RecentCommission(
                    id=c.id,
                    amount=from_minor(c.net_minor),
                    source_type=c.source_type,
                    status=c.status,
                    created_at=c.created_at,
                )
                for c in commissions
            ],
            recent_payouts=[
                ns.RecentPayout(
                    id=p.id,
                    amount=from_minor(p.amount_minor),
                    status=p.status,
                    created_at=p.created_at,
                )
                for p in payouts
            ],
        )


@dataclass(frozen=True, slots=True)
class _MoneyFacts:
    points_period: int
    commissions_count: int
    payouts_count: int
    payout_details: ns.PayoutDetails | None
    recent_commissions: list[ns.RecentCommission]
    recent_payouts: list[ns.RecentPayout]


@dataclass(frozen=True, slots=True)
class AuditFilters:
    admin_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


AUDIT_LOG = Listing(
    rows=select(AuditLog),
    key=AuditLog.id,
    base=AuditLog,
    filters=[
        equals("admin_id", AuditLog.admin_id),
        equals("entity_type", AuditLog.entity_type),
        equals("entity_id", AuditLog.entity_id),
        equals("action", AuditLog.action),
        at_least("created_from", AuditLog.created_at),
        below("created_before", AuditLog.created_at),
    ],
    sorts={"createdAt": AuditLog.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
    key_order=SortOrder.ASC,
)


class AuditViews:
    """The audit log with the names of the admins who acted."""

    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def list(
        self, filters: AuditFilters, page: int, page_size: int
    ) -> tuple[list[AuditLogItem], int]:
        """Newest first."""
        found = await AUDIT_LOG.page(
            self._db,
            {
                "admin_id": filters.admin_id,
                "entity_type": filters.entity_type,
                "entity_id": filters.entity_id,
                "action": filters.action,
                "created_from": filters.created_from,
                "created_before": filters.created_before,
            },
            page=page,
            page_size=page_size,
        )
        total = found.total
        rows = [r.AuditLog for r in found.rows]
        admin_ids = {r.admin_id for r in rows if r.admin_id is not None}
        admins: dict[uuid.UUID, User] = {}
        if admin_ids:
            users = await self._db.execute(select(User).where(User.id.in_(admin_ids)))
            admins = {u.id: u for u in users.scalars()}
        items = []
        for r in rows:
            admin = None
            if r.admin_id is not None:
                user = admins.get(r.admin_id)
                admin = AuditAdmin(
                    id=r.admin_id,
                    email=user.email if user else None,
                    name=user.full_name if user else None,
                )
            items.append(
                AuditLogItem(
                    id=r.id,
                    admin=admin,
                    action=r.action,
                    entity_type=r.entity_type,
                    entity_id=r.entity_id,
                    previous_values=r.previous_values,
                    new_values=r.new_values,
                    ip_address=r.ip_address,
                    created_at=r.created_at,
                )
            )
        return items, int(total)
