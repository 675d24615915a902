"""Partner views of the admin API (seed 004 "Эндпоинты управления партнёрами")."""

import enum
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from iwm.core.money import Money
from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime

ZERO = Decimal("0.00")


class PartnerStatusFilter(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    ALL = "ALL"


PartnerStatusValue = Literal["ACTIVE", "SUSPENDED", "TERMINATED"]


class PartnerSortField(enum.StrEnum):
    CREATED_AT = "createdAt"
    TOTAL_EARNED = "totalEarned"
    NETWORK_SIZE = "networkSize"


class PartnerUser(CamelModel):
    id: uuid.UUID
    email: str
    name: str


class RankRef(CamelModel):
    name: str
    code: str


class SponsorRef(CamelModel):
    id: uuid.UUID
    name: str


class ListStats(CamelModel):
    direct_referrals: int
    network_size: int
    total_earned: Money
    total_withdrawn: Money
    available_balance: Money
    pending_balance: Money


class AdminPartnerItem(CamelModel):
    id: uuid.UUID
    user: PartnerUser
    referral_code: str
    status: str
    rank: RankRef | None
    sponsor: SponsorRef | None
    stats: ListStats
    joined_at: UtcDateTime


class AdminPartnersList(CamelModel):
    partners: list[AdminPartnerItem]


class DetailUser(PartnerUser):
    phone: str | None
    status: str


class DetailRank(CamelModel):
    id: uuid.UUID
    name: str
    code: str
    level: int


class HighestRank(RankRef):
    achieved_at: UtcDateTime


class DetailSponsor(SponsorRef):
    referral_code: str


class Balance(CamelModel):
    available: Money
    pending: Money
    total_earned: Money
    total_withdrawn: Money
    career_points_total: int
    career_points_period: int
    currency: str


class DetailStats(CamelModel):
    direct_referrals: int
    network_size: int
    tree_depth: int
    active_referrals: int
    commissions_count: int = 0
    payouts_count: int = 0


class PayoutDetails(CamelModel):
    method: str
    masked_details: str
    last_updated: UtcDateTime


class RecentCommission(CamelModel):
    id: uuid.UUID
    amount: Money
    source_type: str
    status: str
    created_at: UtcDateTime


class RecentPayout(CamelModel):
    id: uuid.UUID
    amount: Money
    status: str
    created_at: UtcDateTime


class AdminPartnerDetail(CamelModel):
    id: uuid.UUID
    user: DetailUser
    referral_code: str
    status: str
    rank: DetailRank | None
    highest_rank: HighestRank | None
    sponsor: DetailSponsor | None
    balance: Balance
    stats: DetailStats
    payout_details: PayoutDetails | None = None
    recent_commissions: list[RecentCommission]
    recent_payouts: list[RecentPayout]
    joined_at: UtcDateTime
    activated_at: UtcDateTime | None


class NetworkNode(CamelModel):
    id: uuid.UUID
    name: str
    email: str
    referral_code: str
    level: int
    status: str
    rank: str | None
    direct_referrals: int
    total_volume: Money
    joined_at: UtcDateTime


class LevelStats(CamelModel):
    level: int
    count: int
    volume: Money


class NetworkStats(CamelModel):
    total_size: int
    by_level: list[LevelStats]


class PartnerNetwork(CamelModel):
    partner_id: uuid.UUID
    partner_name: str
    network: list[NetworkNode]
    stats: NetworkStats


class PartnerStatusChange(StrictBody):
    """POST /api/v1/admin/partners/{id}/status (beyond the seed, SUPER_ADMIN)."""

    status: PartnerStatusValue
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class PartnerStatusChanged(CamelModel):
    id: uuid.UUID
    status: str
    previous_status: str
    reason: str
    changed_at: UtcDateTime
    changed_by: str


# -- the member's own partner profile (SPEC §8) ---------------------------------------


class MemberSponsor(CamelModel):
    id: uuid.UUID
    name: str
    referral_code: str


class MemberPartner(CamelModel):
    id: uuid.UUID
    referral_code: str
    referral_link: str
    sponsor: MemberSponsor | None
    rank: RankRef | None
    status: str
    direct_referrals: int
    network_size: int
    joined_at: UtcDateTime


class MemberNetworkNode(CamelModel):
    """Another partner as a member sees him: a name, never an email or a phone."""

    id: uuid.UUID
    name: str
    level: int
    status: str
    rank: str | None
    direct_referrals: int
    personal_volume: Money
    joined_at: UtcDateTime


class MemberNetwork(CamelModel):
    network: list[MemberNetworkNode]
    stats: NetworkStats


class MemberBalance(CamelModel):
    available: Money
    pending: Money
    total_earned: Money
    total_withdrawn: Money
    currency: str
