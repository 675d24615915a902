"""What the network service publishes."""

import uuid
from dataclasses import dataclass

from iwm.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerJoined(Event):
    """A partner was enrolled; `upline` holds each ancestor with the new partner's level
    below it (1: the sponsor), the rows locked by the enrolment in id order."""

    partner_id: uuid.UUID
    sponsor_id: uuid.UUID | None
    upline: tuple[tuple[uuid.UUID, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesVolumeBooked(Event):
    """A partner's own sales volume changed by `delta_minor` (a sale, or its reversal)."""

    partner_id: uuid.UUID
    delta_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerStatusChanged(Event):
    """A SUPER_ADMIN moved a partner between ACTIVE, SUSPENDED and TERMINATED."""

    partner_id: uuid.UUID
    previous: str
    status: str
