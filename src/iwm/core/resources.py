"""The process-wide resources one app instance owns, built from its settings."""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from iwm.core.config import Settings
from iwm.core.db import make_engine, make_liveness_engine, make_sessionmaker
from iwm.core.mail import Mailer, make_mailer
from iwm.core.ratelimit import RateLimiter
from iwm.core.security import PasswordHasher
from iwm.core.sessions import RedisSessionStore, SessionStore, SqlSessionStore
from iwm.core.storage import PhotoStorage, make_storage
from iwm.modules.kiosks.liveness import Heartbeats, bind_heartbeats

SECRET_FILE = Path(".iwm-secret")


def signing_secret(settings: Settings) -> bytes:
    """The configured secret; in development, one generated once and kept in a file."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    if settings.env == "production":
        raise RuntimeError("IWM_SECRET_KEY must be set in production")
    if not SECRET_FILE.exists():
        try:
            with SECRET_FILE.open("x") as fh:
                fh.write(secrets.token_hex(32))
        except FileExistsError:
            pass  # another process made it first
    return SECRET_FILE.read_text().strip().encode()


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
    limiter: RateLimiter
    storage: PhotoStorage
    mail: Mailer
    heartbeats: Heartbeats
    passwords: PasswordHasher

    @classmethod
    def build(cls, settings: Settings) -> "Resources":
        engine = make_engine(settings)
        read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        liveness_engine = make_liveness_engine(settings, engine)
        heartbeats = Heartbeats(liveness_engine, settings.heartbeat_flush_seconds)
        maker = make_sessionmaker(engine)
        # Sessions drop the kiosks they change from the heartbeat cache when they commit.
        bind_heartbeats(maker.kw.setdefault("info", {}), heartbeats)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        sessions: SessionStore = (
            RedisSessionStore(redis, settings.redis_prefix)
            if redis is not None
            else SqlSessionStore(maker)
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
            limiter=RateLimiter(settings.redis_url, f"{settings.redis_prefix}:limits"),
            storage=make_storage(settings, signing_secret(settings)),
            mail=make_mailer(settings.smtp_url, settings.mail_from, maker),
            heartbeats=heartbeats,
            passwords=PasswordHasher.from_settings(settings),
        )

    @classmethod
    @asynccontextmanager
    async def opened(cls, settings: Settings) -> AsyncIterator["Resources"]:
        """Resources for a command or a job, closed when the block ends."""
        resources = cls.build(settings)
        try:
            yield resources
        finally:
            await resources.close()

    async def close(self) -> None:
        await self.heartbeats.close()
        await self.storage.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.liveness_engine is not self.engine:
            await self.liveness_engine.dispose()
        await self.engine.dispose()
