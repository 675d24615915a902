import enum
import uuid
from typing import Any

from sqlalchemy import JSON, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core.db import Base, CreatedAtMixin, IdMixin


class ActivityEvent(enum.StrEnum):
    ORDER_CREATED = "ORDER_CREATED"
    ORDER_MARK_PRINTED = "ORDER_MARK_PRINTED"
    ORDER_MARK_NOT_PRINTED = "ORDER_MARK_NOT_PRINTED"
    KIOSK_CODE_ISSUED = "KIOSK_CODE_ISSUED"
    KIOSK_CODE_REDEEMED = "KIOSK_CODE_REDEEMED"
    KIOSK_LANGUAGE_SET = "KIOSK_LANGUAGE_SET"
    KIOSK_ERROR_REPORTED = "KIOSK_ERROR_REPORTED"
    KIOSK_ERROR_CLEARED = "KIOSK_ERROR_CLEARED"
    KIOSK_STATUS_CHANGED = "KIOSK_STATUS_CHANGED"
    KIOSK_PRICE_SET = "KIOSK_PRICE_SET"
    KIOSK_SESSION_PAID = "KIOSK_SESSION_PAID"
    KIOSK_ROUND_STARTED = "KIOSK_ROUND_STARTED"
    KIOSK_SESSION_REFUNDED = "KIOSK_SESSION_REFUNDED"
    KIOSK_CASH_SETTLED = "KIOSK_CASH_SETTLED"


class ActivityLog(IdMixin, CreatedAtMixin, Base):
    """What happened on the kiosk side, and who did it (a partner user or the kiosk)."""

    __tablename__ = "activity_logs"

    event: Mapped[str] = mapped_column(String(64), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
