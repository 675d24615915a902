"""The process-wide resources one app instance owns, built from its settings."""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from iwm.core.changes import ChangeFeed, RedisChangeFeed, bind_feed
from iwm.core.config import Settings
from iwm.core.db import SETTINGS_INFO_KEY, make_engine, make_liveness_engine, make_sessionmaker
from iwm.core.files import make_private, write_private
from iwm.core.mail import Mailer, make_mailer
from iwm.core.metrics import watch_pool
from iwm.core.principal import PrincipalCache
from iwm.core.ratelimit import RateLimiter
from iwm.core.security import PasswordHasher
from iwm.core.sessions import RedisSessionStore, SessionStore, SqlSessionStore
from iwm.core.storage import PhotoStorage, make_storage
from iwm.core.wakeups import Wakeups, bind_wakeups

SECRET_FILE = Path(".iwm-secret")


class HeartbeatBuffer(Protocol):
    """What the resources hold of the kiosks' heartbeat buffer (`kiosks.liveness`)."""

    @property
    def buffered(self) -> bool: ...

    async def beat(self, kiosk_id: uuid.UUID, device_key: str | None) -> tuple[str, str] | None: ...

    def forget(self, kiosk_ids: Iterable[uuid.UUID]) -> None: ...

    async def flush(self) -> int: ...

    async def close(self) -> None: ...


# (liveness engine, flush interval, the info every session is made with) -> the buffer.
HeartbeatsFactory = Callable[[AsyncEngine, float, dict[Any, Any]], HeartbeatBuffer]


class NoHeartbeats:
    """For commands and scripts, which answer no kiosk: nothing is heard or cached."""

    buffered = False

    async def beat(self, kiosk_id: uuid.UUID, device_key: str | None) -> tuple[str, str] | None:
        return None

    def forget(self, kiosk_ids: Iterable[uuid.UUID]) -> None:
        pass

    async def flush(self) -> int:
        return 0

    async def close(self) -> None:
        pass


def signing_secret(settings: Settings) -> bytes:
    """The configured secret; in development, one generated once and kept in a file."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    if settings.env == "production":
        raise RuntimeError("IWM_SECRET_KEY must be set in production")
    try:
        write_private(SECRET_FILE, secrets.token_hex(32).encode(), exclusive=True)
    except FileExistsError:
        make_private(SECRET_FILE)  # made here before, or by another process first
    return SECRET_FILE.read_text().strip().encode()


def payment_webhook_secret(settings: Settings) -> bytes:
    """IWM_PAYMENT_WEBHOOK_SECRET; unset, derived from the signing secret (the same on every
    server), so that the simulated provider works with no setup."""
    if settings.payment_webhook_secret is not None:
        return settings.payment_webhook_secret.get_secret_value().encode()
    return hmac.new(signing_secret(settings), b"payment-webhooks", hashlib.sha256).digest()


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    # The same pool in autocommit: no BEGIN and COMMIT round trips around reads.
    read_engine: AsyncEngine
    liveness_engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    sessions: SessionStore
    # Principals of sessions used a moment ago (see core.principal.PrincipalCache).
    principals: PrincipalCache
    limiter: RateLimiter
    storage: PhotoStorage
    mail: Mailer
    heartbeats: HeartbeatBuffer
    passwords: PasswordHasher
    wakeups: Wakeups
    # Verifies (and, for the simulated provider, signs) incoming payment webhooks.
    payment_webhook_secret: bytes
    changes: ChangeFeed

    @classmethod
    def build(cls, settings: Settings, heartbeats: HeartbeatsFactory | None = None) -> "Resources":
        """`heartbeats` builds the kiosks' heartbeat buffer; the app passes it (see
        `main.create_app`), commands and scripts go without."""
        engine = make_engine(settings)
        read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        liveness_engine = make_liveness_engine(settings, engine)
        watch_pool(engine, "main")
        if liveness_engine is not engine:
            watch_pool(liveness_engine, "liveness")
        maker = make_sessionmaker(engine)
        buffer: HeartbeatBuffer = (
            heartbeats(
                liveness_engine, settings.heartbeat_flush_seconds, maker.kw.setdefault("info", {})
            )
            if heartbeats is not None
            else NoHeartbeats()
        )
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        redis = (
            # `from_pool`: the client owns (and closes) its pool.
            Redis.from_pool(
                BlockingConnectionPool.from_url(
                    redis_url,
                    socket_timeout=settings.redis_timeout_seconds,
                    socket_connect_timeout=settings.redis_timeout_seconds,
                    # Once more on a dropped connection (a Redis restart), at once: the
                    # client's default backs off for seconds, which a request waiting on it
                    # cannot afford.
                    retry=Retry(NoBackoff(), 1),
                    max_connections=settings.redis_pool_size,
                    timeout=settings.redis_pool_timeout_seconds,
                )
            )
            if redis_url
            else None
        )
        wakeups = Wakeups(
            redis,
            Redis.from_url(
                redis_url,
                socket_connect_timeout=settings.redis_timeout_seconds,
                health_check_interval=30,
            )
            if redis_url
            else None,
            settings.redis_prefix,
        )
        bind_wakeups(maker.kw.setdefault("info", {}), wakeups)
        changes = (
            RedisChangeFeed(redis, settings.redis_prefix) if redis is not None else ChangeFeed()
        )
        bind_feed(maker.kw.setdefault("info", {}), changes)
        maker.kw["info"][SETTINGS_INFO_KEY] = settings
        principals = PrincipalCache(settings.principal_cache_seconds)
        sessions: SessionStore = (
            RedisSessionStore(redis, settings.redis_prefix, principals)
            if redis is not None
            else SqlSessionStore(maker, principals)
        )
        return cls(
            settings=settings,
            engine=engine,
            read_engine=read_engine,
            liveness_engine=liveness_engine,
            sessionmaker=maker,
            read_sessionmaker=make_sessionmaker(read_engine),
            redis=redis,
            sessions=sessions,
            principals=principals,
            limiter=RateLimiter(redis_url, f"{settings.redis_prefix}:limits", redis),
            storage=make_storage(settings, signing_secret(settings)),
            mail=make_mailer(
                settings.smtp_url.get_secret_value() if settings.smtp_url else None,
                settings.mail_from,
                maker,
            ),
            heartbeats=buffer,
            passwords=PasswordHasher.from_settings(settings),
            wakeups=wakeups,
            payment_webhook_secret=payment_webhook_secret(settings),
            changes=changes,
        )

    @classmethod
    @asynccontextmanager
    async def opened(
        cls, settings: Settings, heartbeats: HeartbeatsFactory | None = None
    ) -> AsyncIterator["Resources"]:
        """Resources for a command or a job, closed when the block ends."""
        resources = cls.build(settings, heartbeats)
        try:
            yield resources
        finally:
            await resources.close()

    async def close(self) -> None:
        await self.wakeups.close()
        await self.changes.close()
        await self.heartbeats.close()
        await self.storage.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.liveness_engine is not self.engine:
            await self.liveness_engine.dispose()
        await self.engine.dispose()
