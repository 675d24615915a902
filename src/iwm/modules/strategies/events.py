"""What the investment side publishes."""

import uuid
from dataclasses import dataclass

from iwm.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipationEvent(Event):
    participation_id: uuid.UUID
    strategy_id: uuid.UUID
    user_id: uuid.UUID
    amount_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipationStarted(ParticipationEvent):
    """An investment is ACTIVE; the strategy's capacity is taken."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipationFinished(ParticipationEvent):
    """COMPLETED or WITHDRAWN; the capacity is free again."""

    status: str
    returns_minor: int
