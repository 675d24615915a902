"""Login, logout and resolving a token to its principal."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from iwm.core import clock
from iwm.core.principal import Principal
from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash, verify_password
from iwm.modules.auth.errors import AccountDisabled, InvalidCredentials
from iwm.modules.users.models import User, UserStatus
from iwm.modules.users.service import normalize_email

_BLOCKED = {UserStatus.SUSPENDED, UserStatus.BANNED}


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def _is_blocked(user: User) -> bool:
    if user.status not in _BLOCKED:
        return False
    until = getattr(user, "suspended_until", None)
    # A timed suspension ends by itself once its end has passed.
    return not (user.status == UserStatus.SUSPENDED and until is not None and until <= clock.now())


class AuthService:
    @staticmethod
    async def login(resources: Resources, email: str, password: str, ip: str | None) -> LoginResult:
        """Raises 429 past the per-account or per-IP attempt limit, 401 on bad credentials."""
        settings = resources.settings
        rule = f"{settings.login_attempts_per_minute}/minute"
        email = normalize_email(email)
        await resources.limiter.hit(rule, "login-account", email)
        await resources.limiter.hit(rule, "login-ip", ip or "unknown")
        async with resources.sessionmaker() as db:
            user = (await db.execute(select(User).where(User.email == email))).scalar_one_or_none()
            if not verify_password(user.password_hash if user else None, password) or user is None:
                raise InvalidCredentials()
            if _is_blocked(user):
                raise AccountDisabled()
            user.last_login_at = clock.now()
            await db.commit()
        token = new_token()
        ttl = timedelta(seconds=settings.session_ttl_seconds)
        expires_at = await resources.sessions.create(token_hash(token), user.id, ttl)
        return LoginResult(token=token, expires_at=expires_at, user=user)

    @staticmethod
    async def logout(resources: Resources, principal: Principal) -> None:
        await resources.sessions.delete(principal.token_hash)

    @staticmethod
    async def resolve(resources: Resources, hashed: str, ip: str | None) -> Principal | None:
        """The principal of a live session whose user may still sign in, else None."""
        stored = await resources.sessions.get(hashed)
        if stored is None:
            return None
        async with resources.sessionmaker() as db:
            stmt = (
                select(User).where(User.id == stored.user_id).options(selectinload(User.role_rows))
            )
            user = (await db.execute(stmt)).scalar_one_or_none()
        if user is None or _is_blocked(user):
            return None
        return Principal(
            user_id=user.id, email=user.email, roles=user.roles, token_hash=hashed, ip=ip
        )
