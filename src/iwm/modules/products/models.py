"""Shop products. Prices are integer minor units; percentages are hundredths of a percent."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base, CreatedAtMixin, IdMixin


class ProductStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DRAFT = "DRAFT"
    ARCHIVED = "ARCHIVED"
    OUT_OF_STOCK = "OUT_OF_STOCK"


class Product(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_status_created", "status", "created_at"),)

    name: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(220), unique=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    short_description: Mapped[str | None] = mapped_column(String(500))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    compare_at_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=ProductStatus.DRAFT)
    stock_quantity: Mapped[int | None] = mapped_column(Integer)
    track_inventory: Mapped[bool] = mapped_column(Boolean, default=False)
    # weight, dimensions, attributes, tags: descriptive, never computed on.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    commission_bp: Mapped[int] = mapped_column(Integer, default=0)
    career_points_bp: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None]
    updated_by: Mapped[uuid.UUID | None]
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
