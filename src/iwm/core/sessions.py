"""Session stores: Redis in production, a SQL table in the embedded default.

Both keep only the SHA-256 of the token, with an expiry and a per-user index so that
all of a user's sessions can be counted and revoked at once.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy import ForeignKey, String, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base
from iwm.core.principal import PrincipalCache, forget_users_with


class SessionRow(Base):
    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


@dataclass(frozen=True, slots=True)
class StoredSession:
    user_id: uuid.UUID
    expires_at: datetime
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session as its owner sees it in the list of his sessions."""

    token_hash: str
    created_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


class SessionStore(Protocol):
    async def create(
        self,
        token_hash: str,
        user_id: uuid.UUID,
        ttl: timedelta,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> datetime: ...
    async def get(self, token_hash: str) -> StoredSession | None: ...
    async def delete(self, token_hash: str) -> None: ...
    async def extend(self, token_hash: str, until: datetime) -> bool:
        """Moves a live session's end to `until`; False when it is gone."""
        ...

    async def revoke_user(
        self, user_id: uuid.UUID, db: AsyncSession | None = None, keep: str | None = None
    ) -> int:
        """Deletes every session of the user but `keep` (a token hash); returns how many
        were live. Pass the request's `db` when inside one: the SQL store then works in
        that transaction."""
        ...

    async def list_user(
        self, user_id: uuid.UUID, db: AsyncSession | None = None
    ) -> list[SessionInfo]:
        """The user's live sessions, newest first."""
        ...

    async def count_user(self, user_id: uuid.UUID, db: AsyncSession | None = None) -> int: ...


class RedisSessionStore:
    def __init__(self, redis: Redis, prefix: str, cache: PrincipalCache | None = None) -> None:
        self._redis = redis
        self._prefix = prefix
        # This process's cached principals: whatever ends or moves a session forgets its own.
        self._cache = cache or PrincipalCache(0)

    def _key(self, token_hash: str) -> str:
        return f"{self._prefix}:session:{token_hash}"

    def _user_key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}:user-sessions:{user_id}"

    async def create(
        self,
        token_hash: str,
        user_id: uuid.UUID,
        ttl: timedelta,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> datetime:
        now = clock.now()
        expires_at = now + ttl
        seconds = int(ttl.total_seconds())
        payload = json.dumps(
            {
                "u": str(user_id),
                "e": expires_at.timestamp(),
                "c": now.timestamp(),
                "ip": _clip(ip, 45),
                "ua": _clip(user_agent, 300),
            }
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(token_hash), payload, ex=seconds)
            pipe.zadd(self._user_key(user_id), {token_hash: expires_at.timestamp()})
            pipe.expire(self._user_key(user_id), seconds)
            await pipe.execute()
        return expires_at

    async def get(self, token_hash: str) -> StoredSession | None:
        raw = await self._redis.get(self._key(token_hash))
        if raw is None:
            return None
        data = json.loads(raw)
        expires_at = datetime.fromtimestamp(data["e"], tz=clock.now().tzinfo)
        if expires_at <= clock.now():
            return None
        created = data.get("c")
        return StoredSession(
            user_id=uuid.UUID(data["u"]),
            expires_at=expires_at,
            created_at=None if created is None else datetime.fromtimestamp(created, tz=UTC),
        )

    async def extend(self, token_hash: str, until: datetime) -> bool:
        try:
            return await self._extend(token_hash, until)
        finally:
            # After the change: a principal read meanwhile is then refused by the cache.
            self._cache.forget(token_hash)

    async def _extend(self, token_hash: str, until: datetime) -> bool:
        raw = await self._redis.get(self._key(token_hash))
        if raw is None:
            return False
        data = json.loads(raw)
        data["e"] = until.timestamp()
        seconds = max(1, int((until - clock.now()).total_seconds()))
        user_key = self._user_key(uuid.UUID(data["u"]))
        async with self._redis.pipeline(transaction=True) as pipe:
            # XX: a session deleted meanwhile (a logout) is not brought back.
            pipe.set(self._key(token_hash), json.dumps(data), ex=seconds, xx=True)
            pipe.zadd(user_key, {token_hash: until.timestamp()}, xx=True)
            pipe.expire(user_key, seconds, gt=True)
            done = await pipe.execute()
        return bool(done[0])

    async def delete(self, token_hash: str) -> None:
        try:
            raw = await self._redis.getdel(self._key(token_hash))
        finally:
            self._cache.forget(token_hash)
        if raw is not None:
            await self._redis.zrem(self._user_key(uuid.UUID(json.loads(raw)["u"])), token_hash)

    async def revoke_user(
        self, user_id: uuid.UUID, db: AsyncSession | None = None, keep: str | None = None
    ) -> int:
        try:
            return await self._revoke(user_id, keep)
        finally:
            self._cache.forget_user(user_id, keep)

    async def _revoke(self, user_id: uuid.UUID, keep: str | None) -> int:
        user_key = self._user_key(user_id)
        await self._redis.zremrangebyscore(user_key, "-inf", clock.now().timestamp())
        hashes = [_text(h) for h in await self._redis.zrange(user_key, 0, -1)]
        doomed = [h for h in hashes if h != keep]
        if not doomed:
            return 0
        removed = int(await self._redis.delete(*[self._key(h) for h in doomed]))
        await self._redis.zrem(user_key, *doomed)
        return removed

    async def list_user(
        self, user_id: uuid.UUID, db: AsyncSession | None = None
    ) -> list[SessionInfo]:
        user_key = self._user_key(user_id)
        await self._redis.zremrangebyscore(user_key, "-inf", clock.now().timestamp())
        hashes = [_text(h) for h in await self._redis.zrange(user_key, 0, -1)]
        if not hashes:
            return []
        found = []
        tz = clock.now().tzinfo
        for hashed, raw in zip(
            hashes, await self._redis.mget([self._key(h) for h in hashes]), strict=True
        ):
            if raw is None:
                continue
            data = json.loads(raw)
            expires_at = datetime.fromtimestamp(data["e"], tz=tz)
            found.append(
                SessionInfo(
                    token_hash=hashed,
                    # Sessions made before the list existed carry no creation time.
                    created_at=datetime.fromtimestamp(data.get("c", data["e"]), tz=tz),
                    expires_at=expires_at,
                    ip=data.get("ip"),
                    user_agent=data.get("ua"),
                )
            )
        return sorted(found, key=lambda i: i.created_at, reverse=True)

    async def count_user(self, user_id: uuid.UUID, db: AsyncSession | None = None) -> int:
        user_key = self._user_key(user_id)
        return int(await self._redis.zcount(user_key, f"({clock.now().timestamp()}", "+inf"))


class SqlSessionStore:
    """Each call runs in its own short transaction unless given the caller's session.

    On SQLite a request's transaction holds the write lock from its first statement, so
    code running inside a request must pass its session rather than open a second one.
    """

    def __init__(
        self, maker: async_sessionmaker[AsyncSession], cache: PrincipalCache | None = None
    ) -> None:
        self._maker = maker
        self._cache = cache or PrincipalCache(0)

    async def create(
        self,
        token_hash: str,
        user_id: uuid.UUID,
        ttl: timedelta,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> datetime:
        now = clock.now()
        async with self._maker.begin() as db:
            db.add(
                SessionRow(
                    token_hash=token_hash,
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + ttl,
                    ip=_clip(ip, 45),
                    user_agent=_clip(user_agent, 300),
                )
            )
        return now + ttl

    async def get(self, token_hash: str) -> StoredSession | None:
        async with self._maker() as db:
            row = await db.get(SessionRow, token_hash)
        if row is None or row.expires_at <= clock.now():
            return None
        return StoredSession(
            user_id=row.user_id, expires_at=row.expires_at, created_at=row.created_at
        )

    async def extend(self, token_hash: str, until: datetime) -> bool:
        try:
            async with self._maker.begin() as db:
                result = await db.execute(
                    update(SessionRow)
                    .where(SessionRow.token_hash == token_hash, SessionRow.expires_at > clock.now())
                    .values(expires_at=until)
                )
        finally:
            self._cache.forget(token_hash)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, token_hash: str) -> None:
        try:
            async with self._maker.begin() as db:
                await db.execute(delete(SessionRow).where(SessionRow.token_hash == token_hash))
        finally:
            self._cache.forget(token_hash)

    async def revoke_user(
        self, user_id: uuid.UUID, db: AsyncSession | None = None, keep: str | None = None
    ) -> int:
        try:
            if db is not None:
                # Its rows go when the caller's transaction commits.
                forget_users_with(db.sync_session, [user_id])
                return await self._revoke(db, user_id, keep)
            async with self._maker.begin() as own:
                return await self._revoke(own, user_id, keep)
        finally:
            self._cache.forget_user(user_id, keep)

    async def list_user(
        self, user_id: uuid.UUID, db: AsyncSession | None = None
    ) -> list[SessionInfo]:
        stmt = (
            select(SessionRow)
            .where(SessionRow.user_id == user_id, SessionRow.expires_at > clock.now())
            .order_by(SessionRow.created_at.desc())
        )
        if db is not None:
            rows = list((await db.execute(stmt)).scalars())
        else:
            async with self._maker() as own:
                rows = list((await own.execute(stmt)).scalars())
        return [
            SessionInfo(
                token_hash=r.token_hash,
                created_at=r.created_at,
                expires_at=r.expires_at,
                ip=r.ip,
                user_agent=r.user_agent,
            )
            for r in rows
        ]

    async def count_user(self, user_id: uuid.UUID, db: AsyncSession | None = None) -> int:
        if db is not None:
            return await self._count(db, user_id)
        async with self._maker() as own:
            return await self._count(own, user_id)

    async def _revoke(self, db: AsyncSession, user_id: uuid.UUID, keep: str | None) -> int:
        live = await self._count(db, user_id)
        stmt = delete(SessionRow).where(SessionRow.user_id == user_id)
        if keep is not None:
            stmt = stmt.where(SessionRow.token_hash != keep)
            live -= await self._count(db, user_id, keep)
        await db.execute(stmt)
        return live

    @staticmethod
    async def _count(db: AsyncSession, user_id: uuid.UUID, only: str | None = None) -> int:
        stmt = select(func.count()).where(
            SessionRow.user_id == user_id, SessionRow.expires_at > clock.now()
        )
        if only is not None:
            stmt = stmt.where(SessionRow.token_hash == only)
        return int((await db.execute(stmt)).scalar_one())


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
