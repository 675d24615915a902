"""Rate limits on the `limits` library: Redis-backed in production (shared by every
process), in-process memory in the embedded default."""

import math
import secrets
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from iwm.core import clock
from iwm.core.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Locked:
    """The window is full: since when (epoch seconds), and for how much longer."""

    since: float
    retry_after: int


# Drop what left the window; refuse when `limit` entries remain (answering the oldest and
# the newest); otherwise add this attempt. One script: no two callers see the same count.
_RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
if #entries / 2 >= tonumber(ARGV[3]) then
  return {0, entries[2], entries[#entries]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return {1, '', ''}
"""


class FailureWindow:
    """At most `limit` failures in a moving window, decided in one atomic step *before* an
    attempt is judged: each attempt reserves a place (or is refused), and a success gives
    its place back. So a burst of parallel attempts can never have more than `limit`
    judged as failures. In Redis (one Lua script) or, without it, in process memory."""

    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._memory: dict[str, dict[str, float]] = {}
        self._script = redis.register_script(_RESERVE) if redis is not None else None

    async def reserve(self, key: str, limit: int, window: float) -> str | Locked:
        """A token for `release`, or Locked when `limit` places are taken."""
        now = clock.now().timestamp()
        token = secrets.token_hex(8)
        if self._script is not None:
            ok, oldest, newest = await self._script(
                keys=[f"{self._prefix}:failures:{key}"], args=[now, window, limit, token]
            )
            if not int(ok):
                return _locked(float(oldest), float(newest), window, now)
            return token
        # Memory: no await between the count and the add, so this is one step too.
        entries = self._memory.setdefault(key, {})
        for name, at in list(entries.items()):
            if at <= now - window:
                del entries[name]
        if len(entries) >= limit:
            return _locked(min(entries.values()), max(entries.values()), window, now)
        entries[token] = now
        return token

    async def release(self, key: str, token: str) -> None:
        """The attempt succeeded: its place is free again."""
        if self._redis is not None:
            await self._redis.zrem(f"{self._prefix}:failures:{key}", token)
        else:
            self._memory.get(key, {}).pop(token, None)

    def reset(self) -> None:
        self._memory.clear()


def _locked(oldest: float, newest: float, window: float, now: float) -> Locked:
    return Locked(since=newest, retry_after=max(1, math.ceil(oldest + window - now)))


class RateLimiter:
    def __init__(self, redis_url: str | None, prefix: str, redis: Redis | None = None) -> None:
        storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            # The service's own connection pool: the same timeouts and retry as every other
            # Redis call.
            pool = {"connection_pool": redis.connection_pool} if redis is not None else {}
            storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=prefix,
                **pool,  # type: ignore[arg-type]
            )
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self.failures = FailureWindow(redis, prefix)

    async def hit(self, rule: str | RateLimitItem, *key: str) -> None:
        """Count one request; raise 429 RATE_LIMITED (with Retry-After) past the limit."""
        item = parse(rule) if isinstance(rule, str) else rule
        if not await self._limiter.hit(item, *key):
            raise RateLimited(await self._retry_after(item, *key))

    async def check(self, rule: str | RateLimitItem, *key: str) -> None:
        """Raise 429 if the limit is already used up, without counting this call."""
        item = parse(rule) if isinstance(rule, str) else rule
        if not await self._limiter.test(item, *key):
            raise RateLimited(await self._retry_after(item, *key))

    async def count(self, rule: str | RateLimitItem, *key: str) -> None:
        """Count one event against the limit, never raising (failed attempts)."""
        item = parse(rule) if isinstance(rule, str) else rule
        await self._limiter.hit(item, *key)

    async def exceeded(self, rules: list[RateLimitItem], *key: str) -> int | None:
        """Seconds until every one of `rules` admits one more event for `key`, or None when
        none of them is used up (nothing is counted)."""
        waits = [
            await self._retry_after(item, *key)
            for item in rules
            if not await self._limiter.test(item, *key)
        ]
        return max(waits) if waits else None

    async def clear(self, rule: str | RateLimitItem, *key: str) -> None:
        item = parse(rule) if isinstance(rule, str) else rule
        await self._limiter.clear(item, *key)

    async def _retry_after(self, item: RateLimitItem, *key: str) -> int:
        stats = await self._limiter.get_window_stats(item, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        await self.storage.reset()
        self.failures.reset()
