"""Activity log of the kiosk side (seed 000 §1.5), written in the change's transaction."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.modules.activity.models import ActivityEvent, ActivityLog


class ActivityService:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    def record(
        self,
        event: ActivityEvent,
        *,
        actor_type: str,
        actor_id: uuid.UUID | None,
        kiosk_id: uuid.UUID | None = None,
        order_id: uuid.UUID | None = None,
        **details: Any,
    ) -> ActivityLog:
        row = ActivityLog(
            event=event.value,
            actor_type=actor_type,
            actor_id=actor_id,
            kiosk_id=kiosk_id,
            order_id=order_id,
            details=details,
        )
        self._db.add(row)
        return row
