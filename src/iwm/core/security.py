"""Password hashing (Argon2id) and opaque tokens (random, stored only as SHA-256)."""

import hashlib
import hmac
import secrets
from functools import cached_property

import anyio
import anyio.to_thread
import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from iwm.core.config import Settings


class PasswordHasher:
    """Argon2id at the configured cost. Each hash carries its own parameters, so hashes
    made at another cost (older settings, the test profiles) still verify."""

    def __init__(
        self,
        time_cost: int = argon2.profiles.RFC_9106_LOW_MEMORY.time_cost,
        memory_cost: int = argon2.profiles.RFC_9106_LOW_MEMORY.memory_cost,
        parallelism: int = argon2.profiles.RFC_9106_LOW_MEMORY.parallelism,
        concurrency: int = 2,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        self._concurrency = concurrency
        self._threads: anyio.CapacityLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "PasswordHasher":
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
            concurrency=settings.password_hash_concurrency,
        )

    def _limiter(self) -> anyio.CapacityLimiter:
        # Made on first use, inside the event loop that uses it.
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(self._concurrency)
        return self._threads

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        """`verify` in a worker thread: a hash takes tens of milliseconds of CPU (Argon2
        releases the GIL), which on the event loop would stall every other request. At most
        `concurrency` run at once per process; the rest wait without costing CPU or memory."""
        return await anyio.to_thread.run_sync(
            self.verify, password_hash, password, limiter=self._limiter()
        )

    async def hash_async(self, password: str) -> str:
        """`hash` in a worker thread, bounded like `verify_async`."""
        return await anyio.to_thread.run_sync(self.hash, password, limiter=self._limiter())

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a wrong password and for a missing hash (no such account)."""
        try:
            verified = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return verified and password_hash is not None

    @cached_property
    def _dummy_hash(self) -> str:
        # A real hash at this cost to verify against when the account does not exist, so a
        # login for an unknown email costs the same time as one with a wrong password.
        # Made on first use rather than at import: importing the module costs nothing.
        return self._hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """A hash at the recommended cost, for scripts that write users without an app."""
    return PasswordHasher().hash(password)


def new_token() -> str:
    """A 256-bit random token, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
