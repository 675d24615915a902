"""A member's account life cycle: sign-up (with a sponsor's referral code), email
verification, forgotten and changed passwords.

Never commits: the request's transaction does. Mail is returned to the caller, to be sent
after the commit; one-time links carry a random token of which only the SHA-256 is kept,
used at most once (a conditional UPDATE decides between two requests with one token).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from limits import RateLimitItemPerHour
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.errors import RateLimited, ValidationFailed
from iwm.core.mail import MailMessage
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash
from iwm.modules.audit.service import AuditService
from iwm.modules.auth.errors import (
    AccountHasFunds,
    InvalidPassword,
    InvalidReferralCode,
    InvalidToken,
    WrongTwoFactorCode,
)
from iwm.modules.auth.models import AuthToken, TokenPurpose
from iwm.modules.auth.schemas import RegisterRequest
from iwm.modules.auth.service import count_failure, ip_rules, pair_rules
from iwm.modules.auth.two_factor import TwoFactorService
from iwm.modules.network.models import NetworkPartner, PartnerStatus
from iwm.modules.network.service import NetworkService
from iwm.modules.users.errors import EmailAlreadyExists
from iwm.modules.users.models import User, UserStatus
from iwm.modules.users.service import UserService, is_blocked, normalize_email

log = structlog.get_logger()
ENTITY = "user"
CLOSED_REASON = "Account closed by its owner"


@dataclass(frozen=True, slots=True)
class Registered:
    user: User
    mail: MailMessage


@dataclass(frozen=True, slots=True)
class Revoked:
    user: User
    sessions_revoked: int


def _link(settings: Settings, page: str, token: str) -> str:
    base = (settings.member_app_url or settings.public_base_url).rstrip("/")
    return f"{base}/{page}?token={token}"


class AccountService:
    def __init__(self, session: AsyncSession, resources: Resources) -> None:
        self._db = session
        self._resources = resources
        self._settings = resources.settings
        self._users = UserService(session)
        self._audit = AuditService(session)

    # -- limits --------------------------------------------------------------------------

    async def limit(self, action: str, ip: str | None, email: str | None = None) -> None:
        """429 RATE_LIMITED past the per-IP or the per-address budget of `action` (each
        request counts, whether or not the address has an account)."""
        limiter, settings = self._resources.limiter, self._settings
        per_ip = RateLimitItemPerHour(settings.account_requests_per_ip_per_hour)
        await limiter.hit(per_ip, f"account-{action}-ip", ip or "unknown")
        if email is not None:
            per_address = RateLimitItemPerHour(settings.account_mail_per_address_per_hour)
            await limiter.hit(per_address, f"account-{action}-address", normalize_email(email))

    # -- sign-up and verification ------------------------------------------------------

    async def register(self, body: RegisterRequest, ip: str | None) -> Registered:
        """A PENDING_VERIFICATION account with the role USER, and its verification mail.
        Raises VALIDATION_ERROR (language outside the supported list), INVALID_REFERRAL_CODE,
        EMAIL_ALREADY_EXISTS. Publishes UserCreated (through the user service)."""
        if body.language is not None and body.language not in self._settings.supported_languages:
            raise ValidationFailed(
                "Unsupported language",
                {"language": [f"one of {', '.join(self._settings.supported_languages)}"]},
            )
        # The slow hash first, before the transaction's first statement: on SQLite that
        # statement takes the write lock, which every other writer then waits for.
        password_hash = await self._resources.passwords.hash_async(body.password)
        sponsor_id = None
        if body.referral_code is not None:
            sponsor_id = await self._db.scalar(
                select(NetworkPartner.id).where(
                    NetworkPartner.referral_code == body.referral_code.strip().upper(),
                    NetworkPartner.status == PartnerStatus.ACTIVE,
                )
            )
            if sponsor_id is None:
                raise InvalidReferralCode()
        if await self._users.by_email(body.email) is not None:
            raise EmailAlreadyExists()  # the unique index still decides a race
        user = await self._users.create(
            body.email,
            {Role.USER},
            password_hash=password_hash,
            first_name=body.first_name,
            last_name=body.last_name,
            phone=body.phone,
            status=UserStatus.PENDING_VERIFICATION,
            language=body.language,
            sponsor_partner_id=sponsor_id,
        )
        self._audit.record_by(
            user.id,
            "USER_REGISTERED",
            ENTITY,
            user.id,
            new={"email": user.email, "sponsorPartnerId": str(sponsor_id) if sponsor_id else None},
            ip=ip,
        )
        log.info("account.registered", user_id=str(user.id), referred=sponsor_id is not None)
        return Registered(user=user, mail=await self._verification_mail(user))

    async def verify_email(self, token: str, ip: str | None) -> User:
        """Raises INVALID_TOKEN for an unknown, used or expired token."""
        user_id = await self._take(token, TokenPurpose.VERIFY_EMAIL)
        user = await self._users.verify_email(user_id)
        self._audit.record_by(
            user.id, "EMAIL_VERIFIED", ENTITY, user.id, new={"status": user.status}, ip=ip
        )
        log.info("account.email_verified", user_id=str(user.id))
        return user

    async def resend_verification(self, email: str) -> MailMessage | None:
        """A new link for an account still PENDING_VERIFICATION (the earlier ones stop
        working); None, and nothing said, for any other address."""
        user = await self._users.by_email(email)
        if user is None or user.status != UserStatus.PENDING_VERIFICATION:
            return None
        return await self._verification_mail(user)

    async def _verification_mail(self, user: User) -> MailMessage:
        ttl = timedelta(hours=self._settings.email_verification_ttl_hours)
        token = await self._issue(user.id, TokenPurpose.VERIFY_EMAIL, ttl)
        return MailMessage(
            to=user.email,
            subject="Confirm your email address",
            body=(
                f"Hello {user.full_name},\n\n"
                "please confirm your email address by opening this link:\n\n"
                f"{_link(self._settings, 'verify-email', token)}\n\n"
                f"The link works once, for {self._settings.email_verification_ttl_hours} "
                "hours. If you did not sign up, ignore this message.\n"
            ),
        )

    # -- passwords -----------------------------------------------------------------------

    async def forgot_password(self, email: str) -> MailMessage | None:
        """A reset link for an account that may sign in; None, and nothing said, otherwise."""
        user = await self._users.by_email(email)
        if user is None or user.closed_at is not None:
            return None
        if is_blocked(user.status, user.suspended_until):
            return None
        minutes = self._settings.password_reset_ttl_minutes
        token = await self._issue(user.id, TokenPurpose.RESET_PASSWORD, timedelta(minutes=minutes))
        return MailMessage(
            to=user.email,
            subject="Reset your password",
            body=(
                f"Hello {user.full_name},\n\n"
                "someone (we hope you) asked to reset the password of your account. "
                "Choose a new one here:\n\n"
                f"{_link(self._settings, 'reset-password', token)}\n\n"
                f"The link works once, for {minutes} minutes. If you did not ask, ignore "
                "this message: your password stays as it is.\n"
            ),
        )

    async def reset_password(self, token: str, password: str, ip: str | None) -> Revoked:
        """Raises INVALID_TOKEN. Sets the password, ends every session of the account; the
        link came to the address, so an account still PENDING_VERIFICATION is verified."""
        password_hash = await self._resources.passwords.hash_async(password)  # before any lock
        user_id = await self._take(token, TokenPurpose.RESET_PASSWORD)
        await self._retire(user_id, TokenPurpose.RESET_PASSWORD)
        user = await self._users.set_password(user_id, password_hash)
        if user.status == UserStatus.PENDING_VERIFICATION:
            user = await self._users.verify_email(user_id)
        # Last before the commit: with Redis this cannot be rolled back.
        revoked = await self._resources.sessions.revoke_user(user_id, db=self._db)
        self._audit.record_by(
            user_id, "PASSWORD_RESET", ENTITY, user_id, new={"sessionsRevoked": revoked}, ip=ip
        )
        log.info("account.password_reset", user_id=str(user_id), sessions_revoked=revoked)
        return Revoked(user=user, sessions_revoked=revoked)

    async def change_password(self, principal: Principal, current: str, new: str) -> Revoked:
        """Raises INVALID_PASSWORD for a wrong current password. Ends the account's other
        sessions; the caller's stays."""
        await self._check_password(principal, current, "currentPassword")
        new_hash = await self._resources.passwords.hash_async(new)
        user = await self._users.set_password(principal.user_id, new_hash)
        revoked = await self._resources.sessions.revoke_user(
            user.id, db=self._db, keep=principal.token_hash
        )
        self._audit.record(
            principal, "PASSWORD_CHANGED", ENTITY, user.id, new={"sessionsRevoked": revoked}
        )
        log.info("account.password_changed", user_id=str(user.id), sessions_revoked=revoked)
        return Revoked(user=user, sessions_revoked=revoked)

    # -- closing the account -----------------------------------------------------------

    async def close(self, principal: Principal, password: str, code: str | None) -> Revoked:
        """Closes the caller's account for good: the password (and, with two-factor on, a
        code) confirms it. Raises INVALID_PASSWORD, INVALID_TWO_FACTOR_CODE (400),
        ACCOUNT_HAS_FUNDS while a partner balance is available or pending. Personal data
        is erased; what the ledger and the audit need stays (docs/decisions.md)."""
        await self._check_password(principal, password, "password")
        user = await self._users.lock(principal.user_id)
        two_factor = TwoFactorService(self._db)
        if user.two_factor_enabled and not (code and await two_factor.check(user.id, code)):
            raise WrongTwoFactorCode(details={"code": ["a current code or a recovery code"]})
        network = NetworkService(self._db, self._settings)
        partner_id = await network.partner_id_of(user.id)
        if partner_id is not None:
            partner = await network.lock_partner(partner_id)
            if partner is not None and (partner.available_minor or partner.pending_minor):
                raise AccountHasFunds()
            if partner is not None and partner.status != PartnerStatus.TERMINATED:
                # No commission is ever credited to a closed account again.
                await network.set_status(
                    principal, partner_id, PartnerStatus.TERMINATED, CLOSED_REASON
                )
        await two_factor.forget(user.id)
        for purpose in TokenPurpose:
            await self._retire(user.id, purpose)
        user = await self._users.close(user.id, CLOSED_REASON)
        revoked = await self._resources.sessions.revoke_user(user.id, db=self._db)
        self._audit.record(
            principal, "ACCOUNT_CLOSED", ENTITY, user.id, new={"sessionsRevoked": revoked}
        )
        log.info("account.closed", user_id=str(user.id), sessions_revoked=revoked)
        return Revoked(user=user, sessions_revoked=revoked)

    async def _check_password(self, principal: Principal, password: str, field: str) -> None:
        """The signed-in member's password, guessed under the login's failure limits (a
        stolen session must not become a password oracle): 429 while the account and IP
        pair or the IP is locked out, 400 INVALID_PASSWORD (a counted failure) if wrong."""
        settings, limiter = self._settings, self._resources.limiter
        email, ip = principal.email, principal.ip or "unknown"
        pair, per_ip = pair_rules(settings), ip_rules(settings)
        wait = await limiter.exceeded(per_ip, ip) or await limiter.exceeded(pair, email, ip)
        if wait is not None:
            raise RateLimited(wait)
        stored = await self._stored_hash(principal.user_id)
        if not await self._resources.passwords.verify_async(stored, password):
            await count_failure(self._resources, pair, per_ip, email, ip, known=True)
            raise InvalidPassword(details={field: ["incorrect"]})

    async def _stored_hash(self, user_id: uuid.UUID) -> str | None:
        """The password hash, read outside the request's transaction, so that checking it
        (tens of milliseconds) holds no lock: on SQLite the transaction's first statement
        takes the database's write lock."""
        async with self._resources.read_engine.connect() as conn:
            found: str | None = await conn.scalar(
                select(User.password_hash).where(User.id == user_id)
            )
        return found

    # -- one-time tokens -----------------------------------------------------------------

    async def _issue(self, user_id: uuid.UUID, purpose: TokenPurpose, ttl: timedelta) -> str:
        """A new token; the user's earlier unused ones of this purpose stop working."""
        await self._retire(user_id, purpose)
        token = new_token()
        now = clock.now()
        self._db.add(
            AuthToken(
                token_hash=token_hash(token),
                user_id=user_id,
                purpose=purpose,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        await self._db.flush()
        return token

    async def _retire(self, user_id: uuid.UUID, purpose: TokenPurpose) -> None:
        await self._db.execute(
            update(AuthToken)
            .where(
                AuthToken.user_id == user_id,
                AuthToken.purpose == purpose,
                AuthToken.used_at.is_(None),
            )
            .values(used_at=clock.now())
            .execution_options(synchronize_session=False)
        )

    async def _take(self, token: str, purpose: TokenPurpose) -> uuid.UUID:
        """Uses the token up and returns its user; raises INVALID_TOKEN."""
        now = clock.now()
        taken = await self._db.execute(
            update(AuthToken)
            .where(
                AuthToken.token_hash == token_hash(token),
                AuthToken.purpose == purpose,
                AuthToken.used_at.is_(None),
                AuthToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(AuthToken.user_id)
            .execution_options(synchronize_session=False)
        )
        user_id = taken.scalar_one_or_none()
        if user_id is None:
            raise InvalidToken()
        return user_id

    def audit_own(self, principal: Principal, action: str, new: dict[str, object]) -> None:
        """An audit row of a change the member made to his own account."""
        self._audit.record(principal, action, ENTITY, principal.user_id, new=new)
