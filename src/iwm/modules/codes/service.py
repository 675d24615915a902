"""Free-round codes: 4 digits, unique among a kiosk's live codes, single use."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.db import count_where, delete_in_batches
from iwm.core.errors import DomainError, RateLimited
from iwm.core.principal import Principal
from iwm.core.ratelimit import Locked, RateLimiter
from iwm.modules.activity.models import ActivityEvent
from iwm.modules.activity.service import ActivityService
from iwm.modules.codes.errors import CodeAlreadyRedeemed, CodeExpired, InvalidCode, NoFreeCode
from iwm.modules.codes.models import CodeType, FreeRoundCode
from iwm.modules.kiosks.models import Kiosk, KioskErrorReport, KioskStatus
from iwm.modules.kiosks.service import KioskService

CODE_SPACE = 10_000


class CodeService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._activity = ActivityService(session)

    async def _code_type(self, kiosk: Kiosk) -> CodeType:
        if kiosk.status == KioskStatus.ERROR:
            return CodeType.ERROR
        since = clock.now() - timedelta(minutes=self._settings.code_error_window_minutes)
        recent = await self._db.execute(
            select(
                exists().where(
                    KioskErrorReport.kiosk_id == kiosk.id, KioskErrorReport.created_at >= since
                )
            )
        )
        return CodeType.ERROR if recent.scalar_one() else CodeType.CASH

    async def next_type(self, partner: Principal, kiosk_id: uuid.UUID) -> CodeType:
        """The type a code issued now would get (the owner is told before issuing)."""
        kiosk = await KioskService(self._db, self._settings).get_owned(partner, kiosk_id)
        return await self._code_type(kiosk)

    async def recent(
        self, partner: Principal, kiosk_id: uuid.UUID, days: int = 2, limit: int = 20
    ) -> list[FreeRoundCode]:
        """The kiosk's codes issued in the last `days`, newest first (404 if not owned)."""
        kiosk = await KioskService(self._db, self._settings).get_owned(partner, kiosk_id)
        stmt = (
            select(FreeRoundCode)
            .where(
                FreeRoundCode.kiosk_id == kiosk.id,
                FreeRoundCode.created_at >= clock.now() - timedelta(days=days),
            )
            .order_by(FreeRoundCode.created_at.desc(), FreeRoundCode.id)
            .limit(limit)
        )
        return list((await self._db.execute(stmt)).scalars())

    async def issue(self, partner: Principal, kiosk_id: uuid.UUID) -> FreeRoundCode:
        """Locks the kiosk row so that two issuers never pick the same live code."""
        kiosk = await KioskService(self._db, self._settings).get_owned(partner, kiosk_id, lock=True)
        now = clock.now()
        live = await self._db.execute(
            select(FreeRoundCode.code).where(
                FreeRoundCode.kiosk_id == kiosk.id,
                FreeRoundCode.consumed_at.is_(None),
                FreeRoundCode.expires_at > now,
            )
        )
        taken = set(live.scalars())
        if len(taken) >= CODE_SPACE:
            raise NoFreeCode()
        while True:
            code = f"{secrets.randbelow(CODE_SPACE):04d}"
            if code not in taken:
                break
        row = FreeRoundCode(
            id=uuid.uuid4(),
            kiosk_id=kiosk.id,
            code=code,
            type=(await self._code_type(kiosk)).value,
            issued_by_user_id=partner.user_id,
            created_at=now,
            expires_at=now + timedelta(hours=self._settings.code_ttl_hours),
        )
        self._db.add(row)
        self._activity.record(
            ActivityEvent.KIOSK_CODE_ISSUED,
            actor_type="partner",
            actor_id=partner.user_id,
            kiosk_id=kiosk.id,
            codeId=str(row.id),
            type=row.type,
        )
        await self._db.flush()
        return row

    async def redeem(self, kiosk: Kiosk, code: str, limiter: RateLimiter) -> FreeRoundCode:
        """Consumes the code with one conditional UPDATE, so only one of many concurrent
        redeems wins. Wrong and expired codes count against the kiosk's failure limit: each
        attempt takes a place in the window in one atomic step before it is judged (429
        when none is left), and a success gives it back. During a lockout only codes the
        partner issued after it began are honoured (see docs/decisions.md)."""
        # One redeem at a time per kiosk: concurrent redeems of one code all see its
        # final state (one 200, the rest 409) instead of crowding the failure window.
        await KioskService(self._db, self._settings).lock(kiosk)
        limit = self._settings.redeem_failures_allowed
        window = self._settings.redeem_failure_window_seconds
        key = f"redeem-failures:{kiosk.id}"
        place = await limiter.failures.reserve(key, limit, window)
        if isinstance(place, Locked):
            return await self._redeem_locked(kiosk, code, limiter, place)
        try:
            row = await self._consume(kiosk, code)
        except BaseException:
            await limiter.failures.release(key, place)
            raise
        if row is None:
            error = await self._failure(kiosk, code)
            if isinstance(error, CodeAlreadyRedeemed):  # a real code, not a guess
                await limiter.failures.release(key, place)
            raise error  # wrong or expired: the place stays taken, a failure
        await limiter.failures.release(key, place)
        return await self._record(kiosk, row)

    async def _redeem_locked(
        self, kiosk: Kiosk, code: str, limiter: RateLimiter, locked: Locked
    ) -> FreeRoundCode:
        """While the kiosk is locked out, a code issued after the lockout began still
        works. Guesses are judged only while such a code is live, and at most as many
        wrong ones per window as outside a lockout; every other attempt is 429."""
        since = datetime.fromtimestamp(locked.since, UTC)
        now = clock.now()
        fresh = await self._db.execute(
            select(
                exists().where(
                    FreeRoundCode.kiosk_id == kiosk.id,
                    FreeRoundCode.consumed_at.is_(None),
                    FreeRoundCode.expires_at > now,
                    FreeRoundCode.created_at > since,
                )
            )
        )
        if not fresh.scalar_one():
            raise RateLimited(locked.retry_after)
        key = f"redeem-failures-locked:{kiosk.id}"
        place = await limiter.failures.reserve(
            key,
            self._settings.redeem_failures_allowed,
            self._settings.redeem_failure_window_seconds,
        )
        if isinstance(place, Locked):
            raise RateLimited(max(locked.retry_after, place.retry_after))
        row = await self._consume(kiosk, code, issued_after=since)
        if row is None:
            raise RateLimited(locked.retry_after)
        await limiter.failures.release(key, place)
        return await self._record(kiosk, row)

    async def _consume(
        self, kiosk: Kiosk, code: str, issued_after: datetime | None = None
    ) -> FreeRoundCode | None:
        now = clock.now()
        stmt = (
            update(FreeRoundCode)
            .where(
                FreeRoundCode.kiosk_id == kiosk.id,
                FreeRoundCode.code == code,
                FreeRoundCode.consumed_at.is_(None),
                FreeRoundCode.expires_at > now,
            )
            .values(consumed_at=now)
            .returning(FreeRoundCode.id)
            .execution_options(synchronize_session=False)
        )
        if issued_after is not None:
            stmt = stmt.where(FreeRoundCode.created_at > issued_after)
        code_id = (await self._db.execute(stmt)).scalar_one_or_none()
        return None if code_id is None else await self._db.get_one(FreeRoundCode, code_id)

    async def _record(self, kiosk: Kiosk, row: FreeRoundCode) -> FreeRoundCode:
        if row.type == CodeType.CASH:
            await KioskService(self._db, self._settings).record_cash_round(kiosk, row.id)
        self._activity.record(
            ActivityEvent.KIOSK_CODE_REDEEMED,
            actor_type="kiosk",
            actor_id=kiosk.id,
            kiosk_id=kiosk.id,
            codeId=str(row.id),
            type=row.type,
        )
        await self._db.flush()
        return row

    async def _failure(self, kiosk: Kiosk, code: str) -> DomainError:
        latest = await self._db.execute(
            select(FreeRoundCode)
            .where(FreeRoundCode.kiosk_id == kiosk.id, FreeRoundCode.code == code)
            .order_by(FreeRoundCode.created_at.desc())
            .limit(1)
        )
        known = latest.scalar_one_or_none()
        if known is not None and known.consumed_at is not None:
            return CodeAlreadyRedeemed()
        if known is not None:
            return CodeExpired()
        return InvalidCode()

    @staticmethod
    async def count_older_than(maker: async_sessionmaker[AsyncSession], cutoff: datetime) -> int:
        return await count_where(maker, FreeRoundCode.created_at < cutoff)

    @staticmethod
    async def purge_older_than(
        maker: async_sessionmaker[AsyncSession], cutoff: datetime, batch_size: int
    ) -> int:
        """Deletes the codes issued before `cutoff` (retention, seed 000 §3), in batches."""
        return await delete_in_batches(
            maker, FreeRoundCode, FreeRoundCode.created_at < cutoff, batch_size
        )
