import uuid
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from iwm.core.emails import AccountEmail
from iwm.core.phones import AccountPhone
from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime

MIN_PASSWORD_LENGTH = 8


class LoginRequest(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "partner@iwm.local", "password": "demo-password"}]
        }
    )

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)
    # The TOTP code (or a recovery code) of an account with two-factor sign-in.
    code: str | None = Field(default=None, min_length=6, max_length=32)


class AuthUser(CamelModel):
    id: uuid.UUID
    email: str
    roles: list[str]


class LoginResponse(CamelModel):
    token: str
    expires_at: UtcDateTime
    user: AuthUser


class LogoutResponse(CamelModel):
    ok: bool = True


# -- member accounts -------------------------------------------------------------------

# The same floor as `iwm create-user`; the ceiling keeps a hash's input bounded.
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)]


class RegisterRequest(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "anna@example.com",
                    "password": "a-long-passphrase",
                    "firstName": "Anna",
                    "lastName": "Petrova",
                    "phone": "+79991234567",
                    "language": "ru",
                    "referralCode": "AB12CD34",
                }
            ]
        }
    )

    email: AccountEmail = Field(max_length=320)
    password: Password
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    phone: AccountPhone | None = None
    language: str | None = Field(default=None, min_length=2, max_length=2)
    referral_code: str | None = Field(default=None, min_length=1, max_length=32)

    @field_validator("first_name", "last_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("language")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None


class AccountUser(CamelModel):
    id: uuid.UUID
    email: str
    status: str
    roles: list[str]


class AccountAnswer(CamelModel):
    user: AccountUser


class TokenRequest(StrictBody):
    token: str = Field(min_length=1, max_length=200)


class EmailRequest(StrictBody):
    email: str = Field(min_length=3, max_length=320)


class Accepted(CamelModel):
    """202: the request is taken; whether mail goes out is not said (no enumeration)."""

    accepted: bool = True


class ResetRequest(StrictBody):
    token: str = Field(min_length=1, max_length=200)
    password: Password


class ChangePasswordRequest(StrictBody):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: Password


class SessionsRevoked(CamelModel):
    sessions_revoked: int


class TwoFactorSetup(CamelModel):
    secret: str
    otpauth_uri: str


class CodeRequest(StrictBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "492039"}]})

    code: str = Field(min_length=6, max_length=32)


class RecoveryCodes(CamelModel):
    recovery_codes: list[str]


class TwoFactorOff(CamelModel):
    two_factor_enabled: bool = False


class CloseAccount(StrictBody):
    """The password (and, with two-factor on, a code): closing cannot be undone."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "demo-password", "code": "492039"}]}
    )

    password: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, min_length=6, max_length=32)


class AccountClosed(CamelModel):
    id: uuid.UUID
    status: str
    closed_at: UtcDateTime
    sessions_revoked: int
