"""Categories of shop products and of investment strategies (one tree per type)."""

import enum
import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class CategoryType(enum.StrEnum):
    PRODUCT = "PRODUCT"
    STRATEGY = "STRATEGY"


class Category(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("type", "slug", name="uq_categories_type_slug"),)

    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
