"""/api/v1/me: the member's own profile, addresses, sessions (SPEC §8)."""

import re
import uuid
from datetime import date

from pydantic import ConfigDict, Field, field_validator

from iwm.core.phones import AccountPhone
from iwm.core.schemas import CamelModel, PatchBody, StrictBody, UtcDateTime
from iwm.modules.users.schemas import ProfileUpdate

_COUNTRY = re.compile(r"[A-Za-z]{2}")


class MeProfile(CamelModel):
    first_name: str
    last_name: str
    middle_name: str | None
    date_of_birth: date | None
    language: str
    timezone: str
    avatar_url: str | None


class MeKyc(CamelModel):
    status: str
    level: str


class MePartner(CamelModel):
    id: uuid.UUID
    referral_code: str
    status: str
    rank: str | None
    joined_at: UtcDateTime


class Me(CamelModel):
    id: uuid.UUID
    email: str
    phone: str | None
    status: str
    roles: list[str]
    profile: MeProfile
    kyc: MeKyc
    partner: MePartner | None
    two_factor_enabled: bool
    email_verified_at: UtcDateTime | None
    created_at: UtcDateTime


class MeUpdate(StrictBody):
    """As the admin PATCH: a field left out stays; `phone: null` clears the phone."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"phone": "+79991234567", "profile": {"language": "ru"}}]}
    )

    phone: AccountPhone | None = None
    profile: ProfileUpdate | None = None

    @field_validator("profile")
    @classmethod
    def _not_null(cls, value: ProfileUpdate | None) -> ProfileUpdate:
        if value is None:
            raise ValueError("must not be null")
        return value


class AddressRead(CamelModel):
    id: uuid.UUID
    label: str
    is_default: bool
    country: str
    region: str
    city: str
    street: str
    building: str
    apartment: str | None
    postal_code: str
    created_at: UtcDateTime


def _country_code(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        raise ValueError("must be an ISO 3166-1 alpha-2 code such as 'RU'")
    return value.upper()


class AddressCreate(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "Home",
                    "country": "RU",
                    "region": "Moscow",
                    "city": "Moscow",
                    "street": "Tverskaya",
                    "building": "1",
                    "apartment": "12",
                    "postalCode": "125009",
                    "isDefault": True,
                }
            ]
        }
    )

    label: str = Field(default="Home", min_length=1, max_length=64)
    country: str
    region: str = Field(default="", max_length=100)
    city: str = Field(min_length=1, max_length=100)
    street: str = Field(default="", max_length=200)
    building: str = Field(default="", max_length=32)
    apartment: str | None = Field(default=None, max_length=32)
    postal_code: str = Field(default="", max_length=16)
    is_default: bool = False

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return _country_code(value)


class AddressUpdate(PatchBody):
    nullable = frozenset({"apartment"})

    label: str | None = Field(default=None, min_length=1, max_length=64)
    country: str | None = None
    region: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    street: str | None = Field(default=None, max_length=200)
    building: str | None = Field(default=None, max_length=32)
    apartment: str | None = Field(default=None, max_length=32)
    postal_code: str | None = Field(default=None, max_length=16)
    is_default: bool | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return _country_code(value) if value is not None else None


class Deleted(CamelModel):
    id: uuid.UUID
    deleted: bool = True


class SessionRead(CamelModel):
    id: uuid.UUID
    created_at: UtcDateTime
    expires_at: UtcDateTime
    ip: str | None
    user_agent: str | None
    current: bool


class SessionRevoked(CamelModel):
    id: uuid.UUID
    revoked: bool = True
