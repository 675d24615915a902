import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class Shop(IdMixin, CreatedAtMixin, Base):
    """A partner's shop; its time zone decides what "today" means for its kiosks."""

    __tablename__ = "shops"

    partner_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
