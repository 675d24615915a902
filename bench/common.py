"""Pieces the admin benchmarks share: building their database once, and timing each
endpoint over HTTP beside the SQL it issues."""

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from sqlalchemy import event

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.main import create_app

PG_DSN = "postgresql://postgres@127.0.0.1:5432"


def database_url(db_name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}"


async def ensure_database(
    db_name: str,
    probe_table: str,
    load: Callable[[asyncpg.Connection], Awaitable[None]],
    *,
    rebuild: bool,
) -> None:
    """Reuse `db_name` when `probe_table` has rows (after applying newer migrations);
    otherwise build it afresh: migrations, then `load` (COPY)."""
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db_name)
        if exists and not rebuild:
            conn = await asyncpg.connect(f"{PG_DSN}/{db_name}")
            try:
                loaded = await conn.fetchval(f"SELECT count(*) FROM {probe_table}") > 0
            except asyncpg.UndefinedTableError:
                loaded = False
            finally:
                await conn.close()
            if loaded:
                await asyncio.to_thread(upgrade_head, database_url(db_name))
                print(f"reusing database {db_name}")
                return
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{db_name}"')
    finally:
        await admin.close()
    print(f"building database {db_name} (migrations, then COPY)")
    await asyncio.to_thread(upgrade_head, database_url(db_name))
    conn = await asyncpg.connect(f"{PG_DSN}/{db_name}")
    try:
        await load(conn)
    finally:
        await conn.close()


def expect_ok(resp: httpx.Response) -> None:
    if resp.status_code != 200:
        raise RuntimeError(f"{resp.request.url}: {resp.status_code} {resp.text}")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- API beside SQL ------------------------------------------------------------------

Case = tuple[str, str, dict[str, Any]]  # (label, path, query parameters)
GOAL_FACTOR = 2.0
GOAL_SLACK_MS = 5.0
GOAL_CAP_MS = 150.0


@dataclass(frozen=True)
class Goal:
    """API p95 <= factor x SQL p95 + slack, and <= cap (ms)."""

    factor: float = GOAL_FACTOR
    slack_ms: float = GOAL_SLACK_MS
    cap_ms: float = GOAL_CAP_MS


def server_env(db_name: str, redis_url: str, secret: str) -> dict[str, str]:
    """`iwm serve` on the benchmark database: production mode, no scheduler, the admin
    rate limit lifted (one client sends thousands of requests a minute)."""
    return {
        **os.environ,
        "IWM_ENV": "production",
        # The benchmark's clients: the server over loopback, the in-process app as "bench".
        "IWM_ALLOWED_HOSTS": "127.0.0.1,localhost,bench",
        "IWM_DATABASE_URL": database_url(db_name),
        "IWM_REDIS_URL": redis_url,
        "IWM_STORAGE_URL": f"file:///tmp/{db_name}-files",
        "IWM_SECRET_KEY": secret,
        "IWM_SCHEDULER_ENABLED": "false",
        "IWM_ADMIN_RATE_LIMIT_PER_MINUTE": "1000000",
        "IWM_LOG_LEVEL": "WARNING",
    }


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})


async def captured_statements(
    env: dict[str, str], cases: list[Case], email: str, password: str
) -> list[list[tuple[str, Any]]]:
    """The SQL each request issues (with its parameters), captured from an in-process app
    with the server's settings on the same database (its Redis database is emptied first)."""
    app = create_app(settings_of(env))
    resources = app.state.resources
    if resources.redis is not None:  # no sessions or rate limits left from earlier runs
        await resources.redis.flushdb()
    captured: list[tuple[str, Any]] = []

    @event.listens_for(resources.engine.sync_engine, "before_cursor_execute")
    def _capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _m: Any) -> None:
        captured.append((statement, tuple(parameters or ())))

    out = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            resp = await client.post("/auth/login", json={"email": email, "password": password})
            expect_ok(resp)
            headers = {"Authorization": f"Bearer {resp.json()['token']}"}
            for _, path, params in cases:
                expect_ok(await client.get(path, params=params, headers=headers))
                captured.clear()
                expect_ok(await client.get(path, params=params, headers=headers))
                out.append(list(captured))  # sessions and limits live in Redis
    finally:
        await resources.close()
    return out


@contextlib.contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[str]:
    """`iwm serve` (one worker) in its own process; yields its base URL."""
    iwm = str(Path(sys.executable).with_name("iwm"))
    proc = subprocess.Popen(  # noqa: S603
        [iwm, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("iwm serve did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def login(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    resp = client.post("/auth/login", json={"email": email, "password": password})
    expect_ok(resp)
    return {"Authorization": f"Bearer {resp.json()['token']}"}


class KeepAliveClient:
    """GET over one keep-alive HTTP/1.1 connection with nothing else on the way: a full
    client library adds half a millisecond of its own per request on this machine, which
    is not the API's time. Answers must carry Content-Length (every JSON answer does)."""

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self.address = (url.host, url.port or 80)
        self.host = f"{url.host}:{url.port}"
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def reconnect(self) -> None:
        """A new connection: the server closes one left idle for a few seconds."""
        self.sock.close()
        self.sock = self._connect()

    def get(self, path: str, params: dict[str, Any], headers: dict[str, str]) -> int:
        """Sends the request, reads the whole answer, returns its status code."""
        target = f"{path}?{urlencode(params)}" if params else path
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self._recv()
        head, _, body = buf.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)
        }
        length = int(fields["content-length"])
        while len(body) < length:
            body += self._recv()
        return int(status_line.split()[1])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def time_api(
    client: KeepAliveClient, headers: dict[str, str], path: str, params: dict[str, Any], runs: int
) -> list[float]:
    """Wall time of each request as one client sees it, from sending to the last byte."""

    def get() -> None:
        status = client.get(path, params, headers)
        if status != 200:
            raise RuntimeError(f"{path} {params}: {status}")

    client.reconnect()
    for _ in range(10):  # warm up the connection, caches and prepared statements
        get()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        get()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


async def time_sql(
    raw: asyncpg.Connection, statements: list[tuple[str, Any]], runs: int
) -> list[float]:
    """The same statements replayed on a plain asyncpg connection, in one transaction."""
    samples = []
    for i in range(runs + 10):
        t = time.perf_counter()
        async with raw.transaction():
            for statement, parameters in statements:
                await raw.fetch(statement, *parameters)
        if i >= 10:
            samples.append((time.perf_counter() - t) * 1000)
    return samples


async def compare(
    db_name: str,
    env: dict[str, str],
    cases: list[Case],
    credentials: tuple[str, str],
    *,
    runs: int,
    port: int,
    goal: Goal = Goal(),
) -> int:
    """Times every case over HTTP and its SQL directly; prints both; returns the number of
    cases that miss the goal."""
    statements = await captured_statements(env, cases, *credentials)
    raw = await asyncpg.connect(f"{PG_DSN}/{db_name}")
    failed = 0
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        with serving(env, port) as base:
            with httpx.Client(base_url=base, timeout=30) as http:
                headers = login(http, *credentials)
            client = KeepAliveClient(base)
            print(
                f"\n{'endpoint':<42}{'API p50':>9}{'p95':>8}{'SQL p50':>10}{'p95':>8}"
                f"{'stmts':>7}  goal"
            )
            # The ceiling of this run: an answer with no login, no SQL and no Redis, through
            # the same middleware, server and client.
            bare = time_api(client, {}, "/healthz", {}, runs)
            print(
                f"{'ceiling: GET /healthz (no login, no SQL)':<42}{statistics.median(bare):8.1f} "
                f"{percentile(bare, 95):7.1f}"
            )
            for (name, path, params), stmts in zip(cases, statements, strict=True):
                api = time_api(client, headers, path, params, runs)
                sql = await time_sql(raw, stmts, runs)
                api95, sql95 = percentile(api, 95), percentile(sql, 95)
                ok = api95 <= goal.factor * sql95 + goal.slack_ms and api95 <= goal.cap_ms
                failed += not ok
                print(
                    f"{name:<42}{statistics.median(api):8.1f} {api95:7.1f} "
                    f"{statistics.median(sql):9.1f} {sql95:7.1f}{len(stmts):7d}  "
                    f"{'ok' if ok else 'MISSED'}"
                )
            client.close()
    finally:
        await raw.close()
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"\ngoal: API p95 <= {goal.factor:g} x SQL p95 + {goal.slack_ms:g} ms, and <= "
        f"{goal.cap_ms:g} ms (ms; {runs} runs each; `iwm serve` in its own process over HTTP, "
        "one keep-alive client)"
    )
    return failed
