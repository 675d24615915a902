import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class KioskStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ERROR = "error"


class Kiosk(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "kiosks"

    shop_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shops.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default=KioskStatus.ACTIVE)
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error_at: Mapped[datetime | None]
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    device_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_active_at: Mapped[datetime | None]
    # The price of one round paid online, set by the partner; unset, the kiosk sells none.
    price_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))


class CashEntryType(enum.StrEnum):
    FREE_ROUND = "FREE_ROUND"
    SETTLEMENT = "SETTLEMENT"


class KioskErrorReport(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "kiosk_errors"
    __table_args__ = (Index("ix_kiosk_errors_kiosk_created", "kiosk_id", "created_at"),)

    kiosk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(1000), default="")
    cleared_at: Mapped[datetime | None]


class KioskCashEntry(IdMixin, CreatedAtMixin, Base):
    """The kiosk's cash ledger: one row per free round granted by a redeemed `cash` code
    (+1 round, its value at the round price then), and one per settlement by the partner
    (minus everything owed until then). The balance is the sum of the rows."""

    __tablename__ = "kiosk_cash_ledger"

    kiosk_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kiosks.id", ondelete="CASCADE"), index=True
    )
    code_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("free_round_codes.id", ondelete="SET NULL"), unique=True
    )
    entry_type: Mapped[str] = mapped_column(String(32), default=CashEntryType.FREE_ROUND)
    rounds: Mapped[int] = mapped_column(Integer, default=1)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str | None] = mapped_column(String(3))
    settled_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
