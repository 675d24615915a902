"""TOTP two-factor sign-in (RFC 6238: SHA-1, 6 digits, 30 s steps, by pyotp) and its
recovery codes. Never commits: the caller's transaction does."""

import secrets
import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.security import token_hash
from iwm.modules.auth.errors import (
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotSetUp,
    WrongTwoFactorCode,
)
from iwm.modules.auth.models import RecoveryCode, TwoFactorSecret
from iwm.modules.users.service import UserService

ISSUER = "IWM"
METHOD = "TOTP"
DIGITS = 6  # pyotp's default, RFC 6238's usual
RECOVERY_CODES = 10
# Accepted around now: the code of the previous and of the next step too, for clocks a
# little off (RFC 6238 §5.2 recommends at most one step of drift).
DRIFT_STEPS = 1
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a sheet of paper


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str
    otpauth_uri: str


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))  # ~79 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normal(code: str) -> str:
    return code.strip().replace(" ", "").replace("-", "").lower()


class TwoFactorService:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session
        self._users = UserService(session)

    async def setup(self, user_id: uuid.UUID, email: str) -> Setup:
        """A new secret, not yet in force (enable takes the first correct code). Raises
        TWO_FACTOR_ALREADY_ENABLED: a second setup would silently replace the authenticator."""
        row = await self._db.get(TwoFactorSecret, user_id, with_for_update=True)
        if row is not None and row.enabled_at is not None:
            raise TwoFactorAlreadyEnabled()
        secret = pyotp.random_base32()
        if row is None:
            self._db.add(TwoFactorSecret(user_id=user_id, secret=secret, last_step=0))
        else:
            row.secret, row.created_at, row.last_step = secret, clock.now(), 0
        await self._db.flush()
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
        return Setup(secret=secret, otpauth_uri=uri)

    async def enable(self, user_id: uuid.UUID, code: str) -> list[str]:
        """Turns the set-up secret on with its first correct code; returns the recovery
        codes, shown this once (only their hashes are kept). Raises TWO_FACTOR_NOT_SET_UP,
        TWO_FACTOR_ALREADY_ENABLED, INVALID_TWO_FACTOR_CODE (400)."""
        row = await self._db.get(TwoFactorSecret, user_id, with_for_update=True)
        if row is None:
            raise TwoFactorNotSetUp()
        if row.enabled_at is not None:
            raise TwoFactorAlreadyEnabled()
        if not await self._take_totp(row, code):
            raise WrongTwoFactorCode()
        row.enabled_at = clock.now()
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        await self._db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        self._db.add_all(
            RecoveryCode(user_id=user_id, code_hash=token_hash(_normal(c))) for c in codes
        )
        await self._users.set_two_factor(user_id, METHOD)
        return codes

    async def disable(self, user_id: uuid.UUID, code: str) -> None:
        """Turns two-factor off with a current code or a recovery code. Raises
        TWO_FACTOR_NOT_ENABLED, INVALID_TWO_FACTOR_CODE (400)."""
        row = await self._db.get(TwoFactorSecret, user_id, with_for_update=True)
        if row is None or row.enabled_at is None:
            raise TwoFactorNotEnabled()
        if not await self.check(user_id, code):
            raise WrongTwoFactorCode()
        await self.forget(user_id)
        await self._users.set_two_factor(user_id, None)

    async def forget(self, user_id: uuid.UUID) -> None:
        """Removes the secret and the recovery codes (two-factor off, or the account closed)."""
        await self._db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        await self._db.execute(delete(TwoFactorSecret).where(TwoFactorSecret.user_id == user_id))

    async def check(self, user_id: uuid.UUID, code: str) -> bool:
        """True for a TOTP code not used before, or an unused recovery code (used up now).
        Both are taken by a conditional UPDATE: of two requests with one code, one wins."""
        row = await self._db.get(TwoFactorSecret, user_id)
        if row is None or row.enabled_at is None:
            return False
        if await self._take_totp(row, code):
            return True
        taken = await self._db.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == token_hash(_normal(code)),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=clock.now())
            .returning(RecoveryCode.id)
        )
        return taken.first() is not None

    async def recovery_codes_left(self, user_id: uuid.UUID) -> int:
        rows = await self._db.execute(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
        return len(rows.all())

    async def _take_totp(self, row: TwoFactorSecret, code: str) -> bool:
        code = _normal(code)
        if len(code) != DIGITS or not code.isdigit():
            return False
        totp = pyotp.TOTP(row.secret)
        now = clock.now()
        step = totp.timecode(now)
        for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
            if secrets.compare_digest(totp.generate_otp(step + offset), code):
                # A code is good once: the step must be newer than the last one accepted.
                taken = await self._db.execute(
                    update(TwoFactorSecret)
                    .where(
                        TwoFactorSecret.user_id == row.user_id,
                        TwoFactorSecret.last_step < step + offset,
                    )
                    .values(last_step=step + offset)
                    .returning(TwoFactorSecret.user_id)
                    .execution_options(synchronize_session=False)
                )
                return taken.first() is not None
        return False
