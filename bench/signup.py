"""Sign-ups per second at production password hashing cost, beside the machine's raw
Argon2id hash rate (the ceiling: each sign-up hashes one password).

    .venv/bin/python bench/signup.py [--clients 16] [--seconds 15] [--workers 2]

Builds a fresh PostgreSQL database (migrations), starts `iwm serve --workers N` in
production mode on it with Redis (its own key prefix, removed afterwards) and the sign-up
limits lifted, then has `--clients` clients each post `POST /auth/register` with new
addresses back to back for `--seconds`, and prints sign-ups per second (every answer must
be 201) with p50/p95 latency. Before that it measures the ceiling in the same run: Argon2id
hashes per second at the settings' default cost in one thread per core. A sign-up also
writes the account, its role, its verification token, its audit row and the analytics
rollup, and queues its mail: the gap to the ceiling is that work.
"""

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
from argon2 import PasswordHasher
from common import PG_DSN, database_url, percentile
from redis import Redis

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head

REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hash_ceiling(seconds: float) -> tuple[float, int]:
    """Argon2id hashes per second at the production default cost, one thread per core
    (argon2-cffi releases the GIL while hashing)."""
    defaults = Settings()
    hasher = PasswordHasher(
        time_cost=defaults.password_hash_time_cost,
        memory_cost=defaults.password_hash_memory_cost,
        parallelism=defaults.password_hash_parallelism,
    )
    cores = os.cpu_count() or 1
    stop = time.perf_counter() + seconds
    counts = [0] * cores

    def spin(i: int) -> None:
        while time.perf_counter() < stop:
            hasher.hash(secrets.token_urlsafe(12))
            counts[i] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(spin, range(cores)))
    return sum(counts) / (time.perf_counter() - started), cores


async def make_database(name: str) -> None:
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade_head, database_url(name))


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    iwm = str(Path(sys.executable).with_name("iwm"))
    proc = subprocess.Popen(  # noqa: S603
        [iwm, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("iwm serve did not start")


def sign_up_loop(
    base: str, stop: threading.Event, latencies: list[float], errors: list[str], tag: str
) -> None:
    n = 0
    with httpx.Client(base_url=base, timeout=120) as http:
        while not stop.is_set():
            n += 1
            body = {
                "email": f"bench-{tag}-{n}@example.com",
                "password": "a-long-benchmark-passphrase",
                "firstName": "Bench",
                "lastName": "Member",
            }
            started = time.perf_counter()
            resp = http.post("/auth/register", json=body)
            if resp.status_code != 201:
                errors.append(f"{resp.status_code} {resp.text[:200]}")
                stop.set()
                return
            latencies.append((time.perf_counter() - started) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent sign-up clients")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time")
    parser.add_argument("--workers", type=int, default=2, help="iwm serve --workers")
    args = parser.parse_args()

    print("measuring the ceiling: raw Argon2id hashes at the production cost ...")
    ceiling, cores = hash_ceiling(min(args.seconds, 10.0))

    run = f"bench_signup_{os.getpid()}"
    asyncio.run(make_database(run))
    env = {
        **os.environ,
        "IWM_ENV": "production",
        "IWM_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "IWM_DATABASE_URL": database_url(run),
        "IWM_REDIS_URL": REDIS_URL,
        "IWM_REDIS_PREFIX": run,
        "IWM_STORAGE_URL": f"file:///tmp/{run}-files",
        "IWM_SECRET_KEY": secrets.token_urlsafe(32),
        "IWM_SCHEDULER_ENABLED": "false",
        # One client address signs up thousands of accounts: the limits would refuse it.
        "IWM_ACCOUNT_REQUESTS_PER_IP_PER_HOUR": "100000000",
        "IWM_ACCOUNT_MAIL_PER_ADDRESS_PER_HOUR": "100000000",
        "IWM_LOG_LEVEL": "WARNING",
    }
    for key in ("IWM_PASSWORD_HASH_TIME_COST", "IWM_PASSWORD_HASH_MEMORY_COST"):
        env.pop(key, None)  # the production default cost, whatever the shell says
    proc = start_server(env, port := free_port(), args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        # Warm up: every worker has hashed once and opened its connections.
        warm: list[float] = []
        errors: list[str] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=sign_up_loop, args=(base, stop, warm, errors, f"w{i}"))
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join()
        latencies: list[float] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=sign_up_loop, args=(base, stop, latencies, errors, f"m{i}"))
            for i in range(args.clients)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        redis = Redis.from_url(REDIS_URL)
        keys = list(redis.scan_iter(match=f"{run}:*", count=1000))
        if keys:
            redis.unlink(*keys)
        asyncio.run(drop_database(run))
    if errors:
        raise SystemExit(f"a sign-up was refused: {errors[0]}")
    rate = len(latencies) / elapsed
    print(f"\ncores: {cores}; iwm serve --workers {args.workers}; {args.clients} clients")
    print(f"{'':<40}{'per s':>10}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'ceiling: Argon2id hashes, all cores':<40}{ceiling:>10.1f}")
    print(
        f"{'POST /auth/register (201)':<40}{rate:>10.1f}"
        f"{statistics.median(latencies):>10.1f}{percentile(latencies, 95):>10.1f}"
    )
    print(f"sign-ups: {len(latencies)} in {elapsed:.1f} s, {rate / ceiling:.0%} of the ceiling")


if __name__ == "__main__":
    main()
