"""Admin views of users (seed 004 "Эндпоинты управления пользователями")."""

import enum
import re
import uuid
import zoneinfo
from datetime import date
from decimal import Decimal

from pydantic import Field, StrictBool, field_validator, model_validator

from iwm.core.emails import AccountEmail
from iwm.core.money import Money
from iwm.core.phones import AccountPhone
from iwm.core.principal import Role
from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime

ZERO = Decimal("0.00")
_LANGUAGE = re.compile(r"[a-z]{2}")

# Nobody alive was born earlier: an earlier year is a typing slip (1800 for 1980).
EARLIEST_BIRTH_YEAR = 1900


class UserSortField(enum.StrEnum):
    CREATED_AT = "createdAt"
    EMAIL = "email"
    STATUS = "status"
    LAST_LOGIN_AT = "lastLoginAt"


# -- list ----------------------------------------------------------------------------


class ListProfile(CamelModel):
    first_name: str
    last_name: str
    avatar_url: str | None


class ListKyc(CamelModel):
    status: str
    level: str


class ListStats(CamelModel):
    orders_count: int = 0
    total_spent: Money = ZERO
    investments_count: int = 0
    total_invested: Money = ZERO


class AdminUserItem(CamelModel):
    id: uuid.UUID
    email: str
    phone: str | None
    status: str
    profile: ListProfile
    kyc: ListKyc
    roles: list[str]
    is_partner: bool
    stats: ListStats
    last_login_at: UtcDateTime | None
    created_at: UtcDateTime


class AdminUsersList(CamelModel):
    users: list[AdminUserItem]


# -- detail --------------------------------------------------------------------------


class Profile(CamelModel):
    first_name: str
    last_name: str
    middle_name: str | None
    date_of_birth: date | None
    language: str
    timezone: str


class DetailProfile(Profile):
    avatar_url: str | None


class DetailKycDocument(CamelModel):
    id: uuid.UUID
    type: str
    status: str
    uploaded_at: UtcDateTime


class DetailKyc(CamelModel):
    id: uuid.UUID
    status: str
    level: str
    submitted_at: UtcDateTime | None
    reviewed_at: UtcDateTime | None
    reviewed_by: str | None
    expires_at: UtcDateTime | None
    documents: list[DetailKycDocument]


class PartnerBalance(CamelModel):
    available: Money
    pending: Money


class DetailPartner(CamelModel):
    id: uuid.UUID
    referral_code: str
    status: str
    rank: str | None
    sponsor_id: uuid.UUID | None
    sponsor_name: str | None
    balance: PartnerBalance


class Security(CamelModel):
    two_factor_enabled: bool
    two_factor_method: str | None
    email_verified_at: UtcDateTime | None
    phone_verified_at: UtcDateTime | None
    password_changed_at: UtcDateTime | None
    active_sessions: int


class DetailStats(ListStats):
    commissions_earned: Money = ZERO
    referrals_count: int = 0


class Address(CamelModel):
    id: uuid.UUID
    label: str
    is_default: bool
    city: str
    country: str


class Activity(CamelModel):
    type: str
    description: str
    timestamp: UtcDateTime


class Note(CamelModel):
    id: uuid.UUID
    content: str
    created_by: str
    created_at: UtcDateTime


class AdminUserDetail(CamelModel):
    id: uuid.UUID
    email: str
    phone: str | None
    status: str
    profile: DetailProfile
    kyc: DetailKyc | None
    roles: list[str]
    partner: DetailPartner | None
    security: Security
    stats: DetailStats
    addresses: list[Address]
    recent_activity: list[Activity]
    notes: list[Note]
    last_login_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


# -- update --------------------------------------------------------------------------


class ProfileUpdate(StrictBody):
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    date_of_birth: date | None = None
    language: str | None = None
    timezone: str | None = None

    @field_validator("first_name", "last_name", "date_of_birth", "language", "timezone")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omit a field to keep it; only middleName may be cleared with null.
        if value is None:
            raise ValueError("must not be null")
        return value

    @field_validator("date_of_birth")
    @classmethod
    def _in_the_past(cls, value: date) -> date:
        if value >= date.today():  # noqa: DTZ011 - a birth date has no time zone
            raise ValueError("must be in the past")
        if value.year < EARLIEST_BIRTH_YEAR:
            raise ValueError(f"must be in {EARLIEST_BIRTH_YEAR} or later")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.lower()
        if not _LANGUAGE.fullmatch(value):
            raise ValueError("must be an ISO 639-1 code such as 'en'")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError("must be an IANA time zone such as 'Europe/Moscow'")
        return value


class UserUpdate(StrictBody):
    email: AccountEmail | None = None
    phone: AccountPhone | None = None
    profile: ProfileUpdate | None = None
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    note: str | None = Field(default=None, min_length=1, max_length=5000)

    @field_validator("email", "profile", "roles", "note")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value

    @model_validator(mode="after")
    def _unique_roles(self) -> "UserUpdate":
        if self.roles is not None and len(set(self.roles)) != len(self.roles):
            raise ValueError("roles must not repeat")
        return self


class UserUpdated(CamelModel):
    id: uuid.UUID
    email: str
    phone: str | None
    status: str
    profile: Profile
    roles: list[str]
    updated_at: UtcDateTime
    updated_by: str


# -- suspend / activate --------------------------------------------------------------


class SuspendRequest(StrictBody):
    reason: str = Field(min_length=1, max_length=500)
    duration: int | None = Field(default=None, ge=1, le=3650, description="Days; null = indefinite")
    notify_user: StrictBool = False

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class Suspended(CamelModel):
    user_id: uuid.UUID
    status: str
    reason: str
    suspended_at: UtcDateTime
    suspended_by: str
    suspended_until: UtcDateTime | None
    sessions_revoked: int


class ActivateRequest(StrictBody):
    note: str | None = Field(default=None, min_length=1, max_length=5000)
    notify_user: StrictBool = False


class Activated(CamelModel):
    user_id: uuid.UUID
    status: str
    activated_at: UtcDateTime
    activated_by: str
