import uuid

from pydantic import Field

from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime


class LoginRequest(StrictBody):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


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
