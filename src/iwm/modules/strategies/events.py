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


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnCredited(Event):
    """A month's return was credited to a participation (an `investment_returns` entry)."""

    return_id: uuid.UUID
    participation_id: uuid.UUID
    strategy_id: uuid.UUID
    user_id: uuid.UUID
    period: str
    amount_minor: int
    # The participation had ended: the entry is paid out at once, after its principal.
    paid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnsPaid(Event):
    """A finished participation's credited returns were paid out with its principal."""

    participation_id: uuid.UUID
    amount_minor: int
