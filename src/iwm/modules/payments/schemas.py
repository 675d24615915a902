import uuid
from typing import Literal

from iwm.core.schemas import CamelModel


class WebhookReceived(CamelModel):
    received: bool = True
    duplicate: bool
    payment_id: uuid.UUID | None
    status: str | None


PayAction = Literal["pay", "decline"]
