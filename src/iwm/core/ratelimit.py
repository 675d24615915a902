"""Rate limits on the `limits` library: Redis-backed in production (shared by every
process), in-process memory in the embedded default."""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from iwm.core.errors import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None, prefix: str) -> None:
        storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage = RedisStorage(uri, implementation="redispy", key_prefix=prefix)
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

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
