"""What the user service publishes."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from iwm.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class UserCreated(Event):
    user_id: uuid.UUID
    created_at: datetime
