"""Who is calling: an authenticated user session, and the short-lived cache of them."""

import enum
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


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


class PrincipalCache:
    """The principals of recently used sessions, kept `seconds` in this process, keyed by
    the token's hash: a session used again within that time is answered without the
    session store (Redis or SQL) and the user's row.

    Staleness is bounded and one-sided. Everything in this process that ends or changes a
    session or an account forgets the entries at once: logout (`forget`), revoking a
    user's sessions (`forget_user`: suspension, password change or reset), any flush that
    touches a user or his roles (`users.service` listens). A change made by another process
    (another worker or server) is seen here at most `seconds` later; the session's own end
    is checked on every hit. At most `size` entries; when full, the oldest goes first.

    A principal read while a logout or a revocation was under way is not kept: `put` takes
    the `generation` seen before the read, and any forgetting since moves it on.
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        # token hash -> (principal, monotonic time it is good until)
        self._entries: dict[str, tuple[Principal, float]] = {}
        self.generation = 0
        _CACHES.add(self)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def get(self, token_hash: str, now: datetime) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        principal, good_until = entry
        expires = principal.session_expires_at
        if good_until <= time.monotonic() or (expires is not None and expires <= now):
            self._entries.pop(token_hash, None)
            return None
        return principal

    def put(self, principal: Principal, generation: int) -> None:
        """Keeps `principal` unless something was forgotten since `generation` was read."""
        if not self.enabled or generation != self.generation:
            return
        entries = self._entries
        if len(entries) >= self.size and principal.token_hash not in entries:
            del entries[next(iter(entries))]  # dicts keep insertion order: the oldest
        entries[principal.token_hash] = (principal, time.monotonic() + self.seconds)

    def forget(self, token_hash: str) -> None:
        self.generation += 1
        self._entries.pop(token_hash, None)

    def forget_user(self, user_id: uuid.UUID, keep: str | None = None) -> None:
        self.generation += 1
        doomed = [h for h, (p, _) in self._entries.items() if p.user_id == user_id and h != keep]
        for h in doomed:
            del self._entries[h]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


_CACHES: "weakref.WeakSet[PrincipalCache]" = weakref.WeakSet()


def forget_users_everywhere(user_ids: Iterable[uuid.UUID]) -> None:
    """Forgets the users' cached principals in every cache of this process (an account
    changed: its status, roles, email or name)."""
    ids = set(user_ids)
    if not ids:
        return
    for cache in list(_CACHES):
        for user_id in ids:
            cache.forget_user(user_id)


_PENDING = "iwm.forget_principals"


def forget_users_with(session: Session, user_ids: Iterable[uuid.UUID]) -> None:
    """The users' accounts or sessions change in `session`'s transaction: their cached
    principals are forgotten now, and again when it ends (a principal read from the rows
    still committed meanwhile is not kept)."""
    ids = set(user_ids)
    if ids:
        forget_users_everywhere(ids)
        session.info.setdefault(_PENDING, set()).update(ids)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_when_ended(session: Session, *_: Any) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        forget_users_everywhere(ids)
