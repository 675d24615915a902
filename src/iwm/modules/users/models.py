"""Accounts: one row per person, roles in their own table, profile and security facts,
addresses and the notes admins keep about the person."""

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    String,
    Text,
    and_,
    case,
    func,
    literal_column,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin
from iwm.core.principal import Role


def display_name(first_name: str | None, last_name: str | None, email: str) -> str:
    """How a user is named in lists: first and last name, else the email address."""
    return " ".join(p for p in (first_name, last_name) if p) or email


class UserStatus(enum.StrEnum):
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    BANNED = "BANNED"


class KycState(enum.StrEnum):
    """The user's current KYC state as lists show it (the latest verification's)."""

    NOT_SUBMITTED = "NOT_SUBMITTED"
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    NEEDS_INFO = "NEEDS_INFO"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


NO_KYC_LEVEL = "NONE"
# An avatar uploaded by the member is a storage key under this prefix (shown through the
# storage's signed or presigned URL); anything else in `avatar_url` is shown as it is.
AVATAR_PREFIX = "avatars/"


def status_at(status: str, suspended_until: datetime | None, now: datetime) -> UserStatus:
    """The status as the user lives it: a timed suspension past its end is ACTIVE."""
    if status == UserStatus.SUSPENDED and suspended_until is not None and suspended_until <= now:
        return UserStatus.ACTIVE
    return UserStatus(status)


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default=UserStatus.ACTIVE, index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    phone: Mapped[str | None] = mapped_column(String(32))
    last_login_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    # Suspension: a timed one ends by itself once `suspended_until` has passed.
    suspended_at: Mapped[datetime | None]
    suspended_until: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    suspended_by: Mapped[uuid.UUID | None]

    # Security facts.
    two_factor_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    two_factor_method: Mapped[str | None] = mapped_column(String(16))
    email_verified_at: Mapped[datetime | None]
    phone_verified_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    # The sponsor named by the referral code at sign-up (a network partner's id): joining
    # the partner programme later places the member under it. No foreign key: the row is
    # the network's, above this module, and partners are never deleted.
    sponsor_partner_id: Mapped[uuid.UUID | None]
    # Set when the member closed the account: personal data erased, sign-in refused.
    closed_at: Mapped[datetime | None]

    # The latest KYC verification's state, kept by the KYC service in the same transaction
    # so that lists can filter and show it without a join.
    kyc_status: Mapped[str] = mapped_column(String(16), default=KycState.NOT_SUBMITTED, index=True)
    kyc_level: Mapped[str] = mapped_column(String(16), default=NO_KYC_LEVEL)

    role_rows: Mapped[list["UserRole"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", back_populates="user"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    @property
    def full_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)

    def status_at(self, now: datetime) -> UserStatus:
        return status_at(self.status, self.suspended_until, now)

    @property
    def effective_status(self) -> UserStatus:
        return self.status_at(clock.now())

    @classmethod
    def lapsed_suspension(cls, now: datetime) -> ColumnElement[bool]:
        return and_(
            cls.status == UserStatus.SUSPENDED,
            cls.suspended_until.is_not(None),
            cls.suspended_until <= now,
        )

    @classmethod
    def status_is(cls, status: UserStatus, now: datetime) -> ColumnElement[bool]:
        """SQL form of `status_at(now) == status`."""
        if status is UserStatus.ACTIVE:
            return or_(cls.status == UserStatus.ACTIVE, cls.lapsed_suspension(now))
        if status is UserStatus.SUSPENDED:
            return and_(
                cls.status == UserStatus.SUSPENDED,
                or_(cls.suspended_until.is_(None), cls.suspended_until > now),
            )
        return cls.status == status

    @classmethod
    def effective_status_sql(cls, now: datetime) -> ColumnElement[str]:
        return case((cls.lapsed_suspension(now), UserStatus.ACTIVE.value), else_=cls.status)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="role_rows", lazy="raise")


class UserAddress(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "user_addresses"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(64), default="Home")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200), default="")
    building: Mapped[str] = mapped_column(String(32), default="")
    apartment: Mapped[str | None] = mapped_column(String(32))
    postal_code: Mapped[str] = mapped_column(String(16), default="")


class UserNote(IdMixin, CreatedAtMixin, Base):
    """A note an admin wrote about the user; never edited, only added."""

    __tablename__ = "user_notes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    content: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


def full_name_sql() -> ColumnElement[str]:
    """lower(first_name || ' ' || last_name): exactly the expression of the trigram index
    (a literal, not a bound parameter, so that PostgreSQL can match the index)."""
    sep: ColumnElement[str] = literal_column("' '")
    return func.lower(User.first_name.op("||")(sep).op("||")(User.last_name))
