"""What signing in needs besides the account row: one-time links sent by mail, and the
second factor (a TOTP secret and recovery codes)."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, IdMixin


class TokenPurpose(enum.StrEnum):
    VERIFY_EMAIL = "VERIFY_EMAIL"
    RESET_PASSWORD = "RESET_PASSWORD"  # noqa: S105 - a purpose, not a secret


class AuthToken(Base):
    """A one-time link's token: only its SHA-256 is kept; `used_at` is set exactly once
    (a conditional UPDATE), and a token past `expires_at` is refused."""

    __tablename__ = "auth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class TwoFactorSecret(Base):
    """The member's TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s). `enabled_at` is null
    between setup and the first correct code. `last_step` is the time step of the last
    code accepted: a code is good once, even within its 30 seconds."""

    __tablename__ = "auth_two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    enabled_at: Mapped[datetime | None]
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class RecoveryCode(IdMixin, Base):
    """A recovery code, kept as its SHA-256 (80 random bits: no need for a slow hash)."""

    __tablename__ = "auth_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]
