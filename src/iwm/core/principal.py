"""Who is calling: an authenticated user session."""

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    USER = "USER"
    PARTNER = "PARTNER"
    ADMIN = "ADMIN"
    SUPER_ADMIN = "SUPER_ADMIN"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    email: str
    roles: frozenset[Role]
    token_hash: str
    ip: str | None = None
    name: str | None = None  # the display name; answers that say who did something show it
    # The account's status (users.models.UserStatus) as the session was resolved: a member
    # who has not verified the address yet is PENDING_VERIFICATION.
    status: str = "ACTIVE"
    # The session's end and start, for the dashboard's sliding session.
    session_expires_at: datetime | None = None
    session_created_at: datetime | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))
