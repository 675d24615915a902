"""Login, logout and resolving a token to its principal."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from iwm.core import clock
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash
from iwm.modules.auth.errors import AccountDisabled, InvalidCredentials
from iwm.modules.users.models import User, UserRole, UserStatus, display_name
from iwm.modules.users.service import normalize_email

_BLOCKED = {UserStatus.SUSPENDED, UserStatus.BANNED}


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def _is_blocked(status: str, suspended_until: datetime | None) -> bool:
    if status not in _BLOCKED:
        return False
    # A timed suspension ends by itself once its end has passed.
    return not (
        status == UserStatus.SUSPENDED
        and suspended_until is not None
        and suspended_until <= clock.now()
    )


# Every authenticated request runs this: one Core statement on a bare autocommit
# connection, no ORM session and no BEGIN/ROLLBACK (a few times less CPU than loading the
# User and its roles).
_PRINCIPAL = (
    select(
        User.email,
        User.status,
        User.suspended_until,
        User.first_name,
        User.last_name,
        UserRole.role,
    )
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)


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
            if _is_blocked(user.status, user.suspended_until):
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
        async with resources.read_engine.connect() as conn:
            rows = (await conn.execute(_PRINCIPAL, {"user_id": stored.user_id})).all()
        if not rows:
            return None
        email, status, suspended_until, first_name, last_name, _ = rows[0]
        if _is_blocked(status, suspended_until):
            return None
        return Principal(
            user_id=stored.user_id,
            email=email,
            roles=frozenset(Role(row.role) for row in rows if row.role is not None),
            token_hash=hashed,
            ip=ip,
            name=display_name(first_name, last_name, email),
        )
