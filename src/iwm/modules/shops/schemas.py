import uuid
from zoneinfo import available_timezones

from pydantic import Field, field_validator

from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime

_ZONES = available_timezones()


class ShopCreate(StrictBody):
    partner_user_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=300)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _ZONES:
            raise ValueError("unknown IANA time zone")
        return value


class ShopRead(CamelModel):
    id: uuid.UUID
    partner_user_id: uuid.UUID
    name: str
    location: str
    timezone: str
    created_at: UtcDateTime
