import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class CodeType(enum.StrEnum):
    CASH = "cash"
    ERROR = "error"


class FreeRoundCode(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "free_round_codes"
    __table_args__ = (Index("ix_free_round_codes_kiosk_code", "kiosk_id", "code"),)

    kiosk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(8))
    issued_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]
