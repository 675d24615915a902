"""What the ledger publishes."""

import uuid
from dataclasses import dataclass

from iwm.core.events import Event


@dataclass(frozen=True, slots=True)
class LedgerPosted(Event):
    """An entry was posted: the partner's balances move by these amounts."""

    partner_id: uuid.UUID
    available: int
    pending: int
    earned: int
    withdrawn: int
    career_points: int
