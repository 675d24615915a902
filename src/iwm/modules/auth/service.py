"""Login and logout."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
)
from sqlalchemy import select

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import RateLimited
from iwm.core.principal import Principal
from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash
from iwm.modules.auth.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidTwoFactorCode,
    TwoFactorRequired,
)
from iwm.modules.auth.two_factor import TwoFactorService
from iwm.modules.users.models import User
from iwm.modules.users.service import is_blocked, normalize_email

log = structlog.get_logger()

PAIR_SCOPE = "login-failures"
IP_SCOPE = "login-failures-ip"


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def pair_rules(settings: Settings) -> list[RateLimitItem]:
    """Failures allowed per account and client IP: N a minute, then fewer and fewer over
    longer windows (2N per 10 minutes, 4N per hour, 8N per day), so a guesser that waits
    out each minute still slows down to a few attempts an hour."""
    n = settings.login_attempts_per_minute
    return [
        RateLimitItemPerMinute(n),
        RateLimitItemPerMinute(2 * n, 10),
        RateLimitItemPerHour(4 * n),
        RateLimitItemPerDay(8 * n),
    ]


def ip_rules(settings: Settings) -> list[RateLimitItem]:
    return [RateLimitItemPerMinute(settings.login_failures_per_ip_per_minute)]


class AuthService:
    @staticmethod
    async def login(
        resources: Resources,
        email: str,
        password: str,
        ip: str | None,
        code: str | None = None,
        user_agent: str | None = None,
    ) -> LoginResult:
        """Raises 429 while this account and IP pair, or this IP, is past its failure limit;
        401 on bad credentials (counted as a failure of the pair and of the IP); 403 for a
        blocked account. Only failures are counted, so nobody can lock an owner out from
        another address: a correct password from an address without failures always gets in.
        With two-factor sign-in on, the right password then needs `code` (a TOTP code or an
        unused recovery code): 401 TWO_FACTOR_REQUIRED without one, 401
        INVALID_TWO_FACTOR_CODE (a failure, counted as a wrong password is) with a wrong one.
        """
        settings, limiter = resources.settings, resources.limiter
        email = normalize_email(email)
        ip = ip or "unknown"
        pair, per_ip = pair_rules(settings), ip_rules(settings)
        wait = await limiter.exceeded(per_ip, ip)
        scope = "ip"
        if wait is None:
            wait, scope = await limiter.exceeded(pair, email, ip), "account_ip"
        if wait is not None:
            log.warning("login.refused_locked", account=email, ip=ip, scope=scope, retry_after=wait)
            raise RateLimited(wait)
        async with resources.sessionmaker() as db:
            user = (await db.execute(select(User).where(User.email == email))).scalar_one_or_none()
            password_hash = user.password_hash if user else None
            if not await resources.passwords.verify_async(password_hash, password) or user is None:
                await count_failure(resources, pair, per_ip, email, ip, known=user is not None)
                raise InvalidCredentials()
            if is_blocked(user.status, user.suspended_until):
                log.info("login.refused_blocked", account=email, ip=ip, user_id=str(user.id))
                raise AccountDisabled()
            if user.two_factor_enabled:
                if not code:
                    raise TwoFactorRequired()
                if not await TwoFactorService(db).check(user.id, code):
                    await db.commit()  # nothing to keep; ends the transaction
                    await count_failure(resources, pair, per_ip, email, ip, known=True)
                    raise InvalidTwoFactorCode()
            user.last_login_at = clock.now()
            await db.commit()
        for item in pair:  # the owner got in from here: this pair starts afresh
            await limiter.clear(item, email, ip)
        token = new_token()
        ttl = timedelta(seconds=settings.session_ttl_seconds)
        expires_at = await resources.sessions.create(
            token_hash(token), user.id, ttl, ip=ip, user_agent=user_agent
        )
        return LoginResult(token=token, expires_at=expires_at, user=user)

    @staticmethod
    async def logout(resources: Resources, principal: Principal) -> None:
        await resources.sessions.delete(principal.token_hash)


async def count_failure(
    resources: Resources,
    pair: list[RateLimitItem],
    per_ip: list[RateLimitItem],
    email: str,
    ip: str,
    *,
    known: bool,
) -> None:
    """Counts a failed login against the pair and the IP; logs it, and the lockout it starts."""
    limiter = resources.limiter
    for item in pair:
        await limiter.count(item, email, ip)
    for item in per_ip:
        await limiter.count(item, ip)
    log.warning(
        "login.failed",
        account=email,
        ip=ip,
        reason="wrong_password" if known else "unknown_account",
    )
    for scope, rules, key in (("ip", per_ip, (ip,)), ("account_ip", pair, (email, ip))):
        wait = await limiter.exceeded(rules, *key)
        if wait is not None:
            log.warning("login.locked_out", account=email, ip=ip, scope=scope, retry_after=wait)
