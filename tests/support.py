"""Test profiles: the embedded default and the production parts (PostgreSQL, Redis, S3);
and waiting for a server process a test started."""

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

PG_ADMIN_URL = os.environ.get("IWM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("IWM_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
# One name per test process (each pytest-xdist worker is one): its PostgreSQL databases and
# Redis key prefixes carry it, so two runs on one machine, or two workers, never collide.
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
# Argon2id at its cheapest (argon2-cffi's test profile): a run hashes about a thousand
# passwords. Production keeps the recommended cost, the default of the settings.
CHEAP_PASSWORD_HASHING = {
    "IWM_PASSWORD_HASH_TIME_COST": "1",
    "IWM_PASSWORD_HASH_MEMORY_COST": "8",
    "IWM_PASSWORD_HASH_PARALLELISM": "1",
}


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(
    proc: subprocess.Popen[Any],
    base_url: str,
    seconds: float,
    *,
    probe_timeout: float = 1.0,
    output: Callable[[], str] | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """Polls `base_url`/healthz until it answers 200 and returns that answer (`client`: the
    probes go through it, so its kept-alive connection is the one that answered). Fails the
    test when `proc` exits or `seconds` pass first, with the last probe's outcome, the exit
    code and `output()` (the server's log), after killing `proc`."""
    url = f"{base_url}/healthz"
    deadline = time.monotonic() + seconds
    last = "no probe was made"
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if client is None:
                answer = httpx.get(url, timeout=probe_timeout)
            else:
                answer = client.get(url, timeout=probe_timeout)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if answer.status_code == httpx.codes.OK:
                return answer
            last = f"HTTP {answer.status_code}"
        time.sleep(0.1)
    code = proc.poll()
    ended = f"it exited with code {code}" if code is not None else f"not within {seconds:g} s"
    proc.kill()
    proc.wait(timeout=10)
    log = output() if output is not None else "(not captured)"
    pytest.fail(f"the server at {url} did not answer 200: {ended}; last probe: {last}\n{log}")


def production_available() -> bool:
    return port_open("127.0.0.1", 5432) and port_open("127.0.0.1", 6379)


@dataclass
class Profile:
    name: str
    env: dict[str, str]

    @property
    def is_production(self) -> bool:
        return self.name == "production"


def psql(sql: str) -> None:
    subprocess.run(  # noqa: S603
        ["psql", PG_ADMIN_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],  # noqa: S607
        check=True,
        capture_output=True,
    )


def embedded_env(tmp: Path) -> dict[str, str]:
    return {
        "IWM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'iwm.db'}",
        "IWM_STORAGE_URL": f"file://{tmp / 'photos'}",
        "IWM_SECRET_KEY": "test-signing-key-0123456789abcdef",
        "IWM_PAYMENT_WEBHOOK_SECRET": "test-webhook-secret-0123456789abcdef",
        "IWM_SCHEDULER_ENABLED": "false",
        **CHEAP_PASSWORD_HASHING,
    }


def production_env(
    db_name: str, s3_endpoint: str, bucket: str, redis_prefix: str
) -> dict[str, str]:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return {
        "IWM_DATABASE_URL": f"{base}/{db_name}",
        "IWM_REDIS_URL": REDIS_URL,
        "IWM_REDIS_PREFIX": redis_prefix,
        # Pools keep their connections open: with a small one, several test processes (xdist
        # workers, other runs) stay under PostgreSQL's max_connections (100 by default).
        # Ten concurrent transactions still race in the concurrency tests.
        "IWM_DB_POOL_SIZE": "5",
        # The parts' production timeouts (a few hundred ms to 2 s) answer a real outage fast;
        # on a loaded test machine they would fail healthy requests, so the suite's profile
        # waits longer. The outage tests run with the production defaults.
        "IWM_DB_COMMAND_TIMEOUT_SECONDS": "30",
        "IWM_DB_POOL_TIMEOUT_SECONDS": "30",
        "IWM_REDIS_TIMEOUT_SECONDS": "10",
        "IWM_S3_READ_TIMEOUT_SECONDS": "30",
        "IWM_STORAGE_URL": f"s3://{bucket}/photos",
        "IWM_S3_ENDPOINT_URL": s3_endpoint,
        "IWM_SECRET_KEY": "test-signing-key-0123456789abcdef",
        "IWM_PAYMENT_WEBHOOK_SECRET": "test-webhook-secret-0123456789abcdef",
        "IWM_SCHEDULER_ENABLED": "false",
        **CHEAP_PASSWORD_HASHING,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


async def unlink_prefixed(redis: Redis, prefix: str) -> None:
    """Deletes this run's keys only: the Redis database may be shared with other runs."""
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await redis.unlink(*batch)
            batch.clear()
    if batch:
        await redis.unlink(*batch)
