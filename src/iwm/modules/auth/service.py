"""Login and logout."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from iwm.core import clock
from iwm.core.principal import Principal
from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash
from iwm.modules.auth.errors import AccountDisabled, InvalidCredentials
from iwm.modules.users.models import User
from iwm.modules.users.service import is_blocked, normalize_email


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


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
            password_hash = user.password_hash if user else None
            if not resources.passwords.verify(password_hash, password) or user is None:
                raise InvalidCredentials()
            if is_blocked(user.status, user.suspended_until):
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
