"""Kiosk payment sessions: 2,000 kiosks each holding a long poll while heartbeats go on.

    flock /tmp/iwm-bench.lock .venv/bin/python bench/kiosk_sessions.py [--workers 2] \
        [--duration 30] [--kiosks 2000] [--profile]

1. Builds the `iwm_bench_sessions` database afresh: migrations, one partner, 2,000 kiosks
   priced at 3.00 EUR (SQLAlchemy Core, model defaults apply).
2. Serves the app (`iwm serve --workers N`, PostgreSQL + Redis) in its own process group.
3. Ceilings, measured first on the same server: heartbeats alone at 1,000/s (wrk, constant
   pace) for their p99; webhook -> poll answer with 20 kiosks polling and nothing else
   running, for its p95.
4. Full load: every kiosk opens a session and holds a long poll (`wait=25`, re-polled when
   it ends); wrk sends 1,000 heartbeats/s; sessions are paid at 20/s by signed webhooks sent
   as the provider sends them; a kiosk whose poll answers `paid` starts the round, opens a
   new session and polls again. Sampled every 0.5 s: PostgreSQL connections of the app by
   state (`pg_stat_activity`), and each worker's resident memory (/proc). Each worker's
   garbage collections are timed by `bench/gc_probe` (loaded into the server's processes),
   and with `--profile` its event loop is profiled (cProfile).
5. Prints the figures beside the ceilings and the goals: no connection held by waiting
   polls (connections in use stay far below the number of waiting polls), heartbeat p99 <
   50 ms, webhook -> poll p95 < 200 ms.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379 (db 14) and
`wrk`. Linux (reads /proc). Everything runs on 127.0.0.1.
"""
# ruff: noqa: S101 (a script: asserts state what it expects)

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import pstats
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kiosk_fleet import REDIS_URL, Server, WrkResult, app_server, finish_wrk, start_wrk

from iwm.core.migrations import upgrade_head
from iwm.core.security import token_hash
from iwm.modules.payments.provider import event_body, sign

PG_DSN = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "iwm_bench_sessions"
SECRET = "iwm-bench-webhook-secret-5d2e8f"
NAMESPACE = uuid.UUID("0d6c3f8e-1b2a-4f5e-9c7d-3a1b2c4d5e6f")
HEARTBEATS_PER_S = 1000.0
PAYMENTS_PER_S = 20.0
P99_GOAL_MS = 50.0
P95_GOAL_MS = 200.0
GC_PROBE = Path(__file__).resolve().parent / "gc_probe"


def database_url() -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"


def device_key(i: int) -> str:
    return hashlib.sha256(f"iwm-bench-session-kiosk-{i}".encode()).hexdigest()


async def build_database(kiosks: int) -> list[tuple[str, str]]:
    from iwm.modules.kiosks.models import Kiosk
    from iwm.modules.shops.models import Shop
    from iwm.modules.users.models import User, UserRole

    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    await admin.close()
    await asyncio.to_thread(upgrade_head, database_url())
    now = datetime.now(UTC)
    user_id, shop_id = uuid.uuid5(NAMESPACE, "partner"), uuid.uuid5(NAMESPACE, "shop")
    fleet = [(str(uuid.uuid5(NAMESPACE, f"kiosk-{i}")), device_key(i)) for i in range(kiosks)]
    engine = create_async_engine(database_url())
    async with engine.begin() as conn:
        await conn.execute(
            insert(User),
            [
                {
                    "id": user_id,
                    "email": "partner@sessions.bench.test",
                    "password_hash": "x",
                    "first_name": "Bench",
                    "last_name": "Partner",
                    "created_at": now,
                }
            ],
        )
        await conn.execute(insert(UserRole), [{"user_id": user_id, "role": "PARTNER"}])
        await conn.execute(
            insert(Shop),
            [
                {
                    "id": shop_id,
                    "partner_user_id": user_id,
                    "name": "Bench",
                    "location": "",
                    "timezone": "UTC",
                    "created_at": now,
                }
            ],
        )
        await conn.execute(
            insert(Kiosk),
            [
                {
                    "id": uuid.UUID(k),
                    "shop_id": shop_id,
                    "name": f"Kiosk {i}",
                    "status": "active",
                    "default_language": "en",
                    "device_key_hash": token_hash(key),
                    "price_minor": 300,
                    "currency": "EUR",
                    "created_at": now,
                }
                for i, (k, key) in enumerate(fleet)
            ],
        )
    await engine.dispose()
    return fleet


def env_for(gc_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IWM_ENV="production",
        IWM_ALLOWED_HOSTS="127.0.0.1,localhost",
        IWM_DATABASE_URL=database_url(),
        IWM_REDIS_URL=REDIS_URL,
        IWM_REDIS_PREFIX="iwm_bench_sessions",
        IWM_STORAGE_URL=f"file://{tempfile.gettempdir()}/iwm-bench-session-photos",
        IWM_SCHEDULER_ENABLED="false",
        IWM_SECRET_KEY="iwm-bench-signing-key-0c5e7a9d3b1f",
        IWM_PAYMENT_WEBHOOK_SECRET=SECRET,
        IWM_LOG_LEVEL="WARNING",
        # Per worker, and as many again in bursts: 2 workers stay within PostgreSQL's
        # default 100 connections, which this machine's other databases share.
        IWM_DB_POOL_SIZE="10",
        IWM_KIOSK_SESSION_TTL_SECONDS="3600",
        # Every garbage collection of the workers timed (bench/gc_probe/sitecustomize.py).
        IWM_BENCH_GC_DIR=str(gc_dir),
        PYTHONPATH=os.pathsep.join([str(GC_PROBE), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return env


# -- /proc ------------------------------------------------------------------------------


def workers_of(pid: int) -> list[int]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
                if (
                    int(stat.rsplit(")", 1)[1].split()[1]) == pid
                    and b"resource_tracker" not in cmdline
                ):
                    found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def queued_seconds(pid: int) -> float:
    """Time the process spent runnable but not running (Linux schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


@dataclass
class CpuShare:
    """Who used the two cores during the full load: the server's workers, this script (the
    kiosks' polls, the webhooks, the sampler) and wrk (the heartbeats)."""

    workers: list[int]
    wrk: int = 0
    wrk_seconds: float = 0.0
    began: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        now = {f"worker {pid}": cpu_seconds(pid) for pid in self.workers}
        # Time the worker was ready to run but waited for a core (other processes had them).
        now |= {f"worker {pid} waiting for a core": queued_seconds(pid) for pid in self.workers}
        now["load client"] = own.ru_utime + own.ru_stime
        now["wrk"] = self.wrk_seconds
        return now

    def start(self, wrk: int) -> None:
        self.wrk, self.wrk_seconds = wrk, 0.0
        self.began, self.marks = time.monotonic(), self._now()

    async def follow_wrk(self) -> None:
        """wrk's CPU time, read while it runs (gone once it has ended)."""
        with contextlib.suppress(OSError, ValueError):
            while True:
                self.wrk_seconds = cpu_seconds(self.wrk)
                await asyncio.sleep(0.25)

    def stop(self) -> dict[str, float]:
        """CPU seconds per second of each, since `start`."""
        seconds = time.monotonic() - self.began
        return {k: (v - self.marks[k]) / seconds for k, v in self._now().items()}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- a kiosk's long poll over one keep-alive connection -------------------------------


class Http1:
    """A minimal HTTP/1.1 keep-alive client, cheap enough for thousands of kiosks (httpx
    cost the load client more CPU than a server worker used)."""

    # uvicorn closes a connection idle for 5 s: one idle this long is replaced before use.
    IDLE_SECONDS = 4.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used_at = 0.0

    async def get(self, path: str, headers: str) -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            return await self.request("GET", path, headers)
        except (ConnectionResetError, asyncio.IncompleteReadError) as exc:
            if not reused or getattr(exc, "partial", b""):
                raise
            # Closed by the server as it went idle: as any HTTP client, the GET again.
            self.close()
            return await self.request("GET", path, headers)

    async def request(
        self, method: str, path: str, headers: str = "", body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is not None and time.monotonic() - self.used_at > self.IDLE_SECONDS:
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        try:
            length = f"Content-Length: {len(body)}\r\n" if method != "GET" else ""
            self.writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}{length}\r\n".encode()
                + body
            )
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            size = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    size = int(line.split(b":")[1])
            answer = int(head.split()[1]), await self.reader.readexactly(size)
        except BaseException:
            self.close()
            raise
        self.used_at = time.monotonic()
        return answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


ClientError = (OSError, asyncio.IncompleteReadError, ValueError)


@dataclass
class Kiosk:
    id: str
    key: str
    session: str = ""
    reference: str = ""
    paid_at: float | None = None
    conn: Http1 | None = None
    # The current payment's moments: webhook sent, its answer, the poll's answer.
    payment: list[float] = field(default_factory=list)


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    payments: list[list[float]] = field(default_factory=list)  # sent, answered, polled
    polls_answered: int = 0
    errors: list[str] = field(default_factory=list)
    connections: list[tuple[int, int, int]] = field(default_factory=list)  # in use, open, polls
    rss: dict[int, float] = field(default_factory=dict)


class Load:
    def __init__(self, base: str, port: int, kiosks: list[Kiosk]) -> None:
        self.base, self.port, self.kiosks = base, port, kiosks
        # The provider's webhook deliveries: a few kept-alive connections, one per delivery
        # under way.
        self.hooks: asyncio.Queue[Http1] = asyncio.Queue()
        for _ in range(32):
            self.hooks.put_nowait(Http1(port))
        self.figures = Figures()
        self.waiting = 0
        self.running = True
        self.pg: asyncpg.Pool | None = None

    def close(self) -> None:
        for kiosk in self.kiosks:
            if kiosk.conn is not None:
                kiosk.conn.close()
        while not self.hooks.empty():
            self.hooks.get_nowait().close()

    async def open(self, kiosk: Kiosk) -> None:
        if kiosk.conn is None:
            kiosk.conn = Http1(self.port)
        status, body = await kiosk.conn.request(
            "POST", f"/kiosk/{kiosk.id}/sessions", f"Authorization: Bearer {kiosk.key}\r\n"
        )
        if status != 201:
            raise RuntimeError(body.decode(errors="replace"))
        opened = json.loads(body)
        kiosk.session = opened["id"]
        payment_id = uuid.UUID(opened["paymentUrl"].rsplit("/", 1)[1])
        assert self.pg is not None
        kiosk.reference = await self.pg.fetchval(
            "SELECT provider_reference FROM payments WHERE id = $1", payment_id
        )
        kiosk.paid_at = None

    async def poll_forever(self, kiosk: Kiosk) -> None:
        """The kiosk's loop, on its one kept-alive connection (polls, starts and opens)."""
        if kiosk.conn is None:
            kiosk.conn = Http1(self.port)
        while self.running:
            path = f"/kiosk/{kiosk.id}/sessions/{kiosk.session}?wait=25"
            self.waiting += 1
            try:
                status, body = await kiosk.conn.get(path, f"Authorization: Bearer {kiosk.key}\r\n")
            except ClientError as exc:
                self.figures.errors.append(f"poll: {exc!r}")
                await asyncio.sleep(1.0)  # as a kiosk would: no retry storm
                continue
            finally:
                self.waiting -= 1
            if status != 200:
                self.figures.errors.append(f"poll {status}: {body[:200]!r}")
                await asyncio.sleep(1.0)
                continue
            self.figures.polls_answered += 1
            if json.loads(body)["status"] == "paid":
                if kiosk.paid_at is not None:
                    self.figures.latencies.append((time.monotonic() - kiosk.paid_at) * 1000)
                    kiosk.payment[2] = time.monotonic()
                try:
                    started, _ = await kiosk.conn.request(
                        "POST",
                        f"/kiosk/{kiosk.id}/sessions/{kiosk.session}/start",
                        f"Authorization: Bearer {kiosk.key}\r\n",
                    )
                    if started != 200:
                        self.figures.errors.append(f"start {started}")
                except ClientError as exc:
                    self.figures.errors.append(f"start: {exc!r}")
                while self.running:
                    try:
                        await self.open(kiosk)
                        break
                    except (RuntimeError, *ClientError) as exc:
                        self.figures.errors.append(f"open: {str(exc)[:120]}")
                        await asyncio.sleep(1.0)

    async def pay(self, kiosk: Kiosk) -> None:
        body = event_body("payment.succeeded", kiosk.reference)
        kiosk.paid_at = time.monotonic()
        kiosk.payment = [kiosk.paid_at, float("nan"), float("nan")]
        self.figures.payments.append(kiosk.payment)
        conn = await self.hooks.get()
        try:
            status, answer = await conn.request(
                "POST",
                "/api/v1/payments/webhook",
                f"Webhook-Signature: {sign(SECRET.encode(), body)}\r\n"
                "Content-Type: application/json\r\n",
                body,
            )
        except ClientError as exc:
            self.figures.errors.append(f"webhook: {exc!r}")
            return
        finally:
            self.hooks.put_nowait(conn)
        kiosk.payment[1] = time.monotonic()
        if status != 200:
            self.figures.errors.append(f"webhook {status}: {answer[:200]!r}")

    async def pay_at(self, rate: float, seconds: float, among: list[Kiosk]) -> None:
        interval, next_at = 1 / rate, time.monotonic()
        end = next_at + seconds
        tasks = []
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            ready = [k for k in random.sample(among, min(len(among), 50)) if k.paid_at is None]
            if ready:
                tasks.append(asyncio.create_task(self.pay(ready[0])))
        await asyncio.gather(*tasks)
        await asyncio.sleep(1.0)  # the last answers

    async def sample(self, workers: list[int]) -> None:
        assert self.pg is not None
        while self.running:
            rows = await self.pg.fetch(
                "SELECT state, count(*) FROM pg_stat_activity WHERE datname = $1 "
                "AND application_name <> 'bench' GROUP BY state",
                DB_NAME,
            )
            by_state = {r["state"]: r["count"] for r in rows}
            in_use = by_state.get("active", 0) + by_state.get("idle in transaction", 0)
            self.figures.connections.append((in_use, sum(by_state.values()), self.waiting))
            for pid in workers:
                with contextlib.suppress(OSError):
                    self.figures.rss[pid] = max(self.figures.rss.get(pid, 0.0), rss_mb(pid))
            await asyncio.sleep(0.5)


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def signal_all(workers: list[int], signum: int) -> None:
    for pid in workers:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def print_profiles(workers: list[int], gc_dir: Path) -> None:
    for pid in workers:
        print(f"\n== profile of worker {pid} during the full load (event loop thread)")
        with contextlib.suppress(OSError):
            stats = pstats.Stats(str(gc_dir / f"{pid}.prof"))
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)


async def gc_figures(workers: list[int], gc_dir: Path) -> dict[int, dict[str, Any]]:
    """Each worker's garbage collections since the previous call (bench/gc_probe)."""
    for pid in workers:
        with contextlib.suppress(OSError):
            (gc_dir / f"{pid}.json").unlink(missing_ok=True)
            os.kill(pid, signal.SIGUSR1)
    found: dict[int, dict[str, Any]] = {}
    for _ in range(50):
        await asyncio.sleep(0.1)
        for pid in workers:
            with contextlib.suppress(OSError, ValueError):
                found[pid] = json.loads((gc_dir / f"{pid}.json").read_text())
        if len(found) == len(workers):
            break
    return found


async def quiet_ceiling(load: Load, few: list[Kiosk]) -> tuple[list[asyncio.Task[None]], float]:
    """Webhook -> poll with a few kiosks polling and nothing else: their polls go on."""
    print(f"== ceiling: webhook -> poll with {len(few)} kiosks polling, nothing else running")
    for k in few:
        await load.open(k)
    pollers = [asyncio.create_task(load.poll_forever(k)) for k in few]
    await asyncio.sleep(1.0)
    await load.pay_at(5.0, 6.0, few)
    quiet_p95 = percentile(load.figures.latencies, 95)
    print(f"   p95 {quiet_p95:.1f} ms over {len(load.figures.latencies)} payments")
    load.figures.latencies.clear()
    load.figures.payments.clear()
    return pollers, quiet_p95


async def run(
    server: Server,
    fleet: list[tuple[str, str]],
    seconds: int,
    hb_file: Path,
    gc_dir: Path,
    profile: bool,
) -> int:
    assert server.proc is not None
    workers = workers_of(server.proc.pid)
    idle_rss = {pid: rss_mb(pid) for pid in workers}
    kiosks = [Kiosk(k, key) for k, key in fleet]

    print(f"== ceiling: heartbeats alone, {HEARTBEATS_PER_S:.0f}/s for 10 s")
    start_wrk(server.base, "heartbeat", hb_file, 0, 2, 8, hb_file).communicate()  # warm-up
    hb_alone = finish_wrk(
        start_wrk(server.base, "heartbeat", hb_file, HEARTBEATS_PER_S, 10, 64, hb_file),
        "heartbeat",
        HEARTBEATS_PER_S,
    )
    print(f"   p99 {hb_alone.p99:.1f} ms, {hb_alone.requests / hb_alone.seconds:.0f} req/s")

    load = Load(server.base, server.port, kiosks)
    load.pg = await asyncpg.create_pool(
        f"{PG_DSN}/{DB_NAME}", min_size=2, max_size=6, server_settings={"application_name": "bench"}
    )
    pollers, quiet_p95 = await quiet_ceiling(load, kiosks[:20])

    print(
        f"== full load: {len(kiosks)} long polls, {HEARTBEATS_PER_S:.0f} heartbeats/s, "
        f"{PAYMENTS_PER_S:.0f} payments/s for {seconds} s"
    )
    sem = asyncio.Semaphore(32)

    async def open_one(k: Kiosk) -> None:
        async with sem:
            for _ in range(5):
                try:
                    await load.open(k)
                    return
                except (RuntimeError, *ClientError) as exc:
                    load.figures.errors.append(f"open: {str(exc)[:120]}")
                    await asyncio.sleep(1.0)

    rest = kiosks[20:]
    await asyncio.gather(*(open_one(k) for k in rest))
    pollers += [asyncio.create_task(load.poll_forever(k)) for k in rest]
    await asyncio.sleep(3.0)
    print(f"   polls waiting: {load.waiting}")
    sampler = asyncio.create_task(load.sample(workers))
    await gc_figures(workers, gc_dir)  # counted from here
    if profile:
        signal_all(workers, signal.SIGUSR2)
    cpu = CpuShare(workers)
    wrk = start_wrk(server.base, "heartbeat", hb_file, HEARTBEATS_PER_S, seconds, 64, hb_file)
    cpu.start(wrk.pid)
    following = asyncio.create_task(cpu.follow_wrk())
    await load.pay_at(PAYMENTS_PER_S, seconds - 1, kiosks)
    hb = await asyncio.to_thread(finish_wrk, wrk, "heartbeat", HEARTBEATS_PER_S)
    shares = cpu.stop()
    if profile:
        signal_all(workers, signal.SIGUSR2)
    collections = await gc_figures(workers, gc_dir)
    following.cancel()
    load.running = False
    await asyncio.sleep(0.6)
    sampler.cancel()
    for p in pollers:
        p.cancel()
    await asyncio.gather(*pollers, sampler, return_exceptions=True)
    load.close()
    await load.pg.close()
    if profile:
        print_profiles(workers, gc_dir)

    return report(load.figures, hb, hb_alone, quiet_p95, workers, idle_rss, shares, collections)


def report(
    f: Figures,
    hb: WrkResult,
    hb_alone: WrkResult,
    quiet_p95: float,
    workers: list[int],
    idle_rss: dict[int, float],
    shares: dict[str, float],
    collections: dict[int, dict[str, Any]],
) -> int:
    full_p95 = percentile(f.latencies, 95)
    in_use = max(c[0] for c in f.connections)
    opened = max(c[1] for c in f.connections)
    polls = min(c[2] for c in f.connections)
    print("\n== figures                               full load      ceiling (same run)")
    print(f"heartbeat p99 (1,000/s)             {hb.p99:9.1f} ms   {hb_alone.p99:9.1f} ms alone")
    print(
        f"heartbeat rate achieved             {hb.requests / hb.seconds:9.0f} /s   "
        f"{hb_alone.requests / hb_alone.seconds:9.0f} /s"
    )
    print(f"webhook -> poll answer p95          {full_p95:9.1f} ms   {quiet_p95:9.1f} ms quiet")
    print(
        f"webhook -> poll answer p50 / max    {percentile(f.latencies, 50):9.1f} ms   "
        f"{max(f.latencies, default=float('nan')):9.1f} ms max"
    )
    print(f"payments answered                   {len(f.latencies):9d}")
    hooked = [(a - s) * 1000 for s, a, _ in f.payments if not math.isnan(a)]
    after = [(p - a) * 1000 for _, a, p in f.payments if not math.isnan(a + p)]
    print(
        f"webhook answered p50 / p95          {percentile(hooked, 50):9.1f} ms   "
        f"{percentile(hooked, 95):9.1f} ms"
    )
    # Negative: the poll answered before the webhook's own answer was back.
    print(
        f"poll answer after it, p50 / p95     {percentile(after, 50):9.1f} ms   "
        f"{percentile(after, 95):9.1f} ms"
    )
    print(f"long polls waiting (min sampled)    {polls:9d}")
    print(f"DB connections in use (max)         {in_use:9d}      (open in the pools: {opened})")
    for pid in workers:
        print(
            f"worker {pid} resident memory       {f.rss.get(pid, 0):9.1f} MB   "
            f"{idle_rss.get(pid, 0):9.1f} MB idle"
        )
    for pid, g in collections.items():
        pauses = g["pauses_ms"]
        print(
            f"worker {pid} GC (threshold {tuple(g['threshold'])}, frozen {g['frozen']}): "
            + ", ".join(
                f"gen {gen} {len(ms)} x, p99 {percentile(ms, 99):.1f} / max "
                f"{max(ms, default=0):.1f} ms"
                for gen, ms in sorted(pauses.items())
            )
            + f"; objects freed {g['collected']}, tracked now {g['tracked']}; cyclic garbage "
            f"waiting {g['garbage'][0]} objects, {g['garbage'][1] / 1e6:.1f} MB (shallow)"
        )
        print(
            "   its oldest generation by type: "
            + ", ".join(f"{name} {n}" for name, n in g["oldest_by_type"][:12])
        )
    used = {k: v for k, v in shares.items() if "waiting" not in k}
    queued = {k.split(" waiting")[0]: v for k, v in shares.items() if "waiting" in k}
    print(
        "CPU used in the full load (cores):   "
        + ", ".join(f"{name} {share:.2f}" for name, share in used.items())
    )
    # Ready to run but without a core (the machine's other processes had them), per second.
    print(
        "waiting for a core (s per s):        "
        + ", ".join(f"{name} {share:.2f}" for name, share in queued.items())
    )
    kinds = Counter(e.split(":")[0] for e in f.errors)
    print(f"errors                              {len(f.errors):9d}  {dict(kinds)} {f.errors[:2]}")
    goals = [
        ("no DB connection held by waiting polls (in use << polls waiting)", in_use < polls / 20),
        (f"heartbeat p99 < {P99_GOAL_MS:.0f} ms under the polls", hb.p99 < P99_GOAL_MS),
        (f"webhook -> poll p95 < {P95_GOAL_MS:.0f} ms", full_p95 < P95_GOAL_MS),
        ("no errors", not f.errors and hb.errors == 0),
    ]
    for text, ok in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--kiosks", type=int, default=2000)
    ap.add_argument(
        "--profile",
        action="store_true",
        help="profile each worker's event loop during the full load (cProfile: slower)",
    )
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    fleet = asyncio.run(build_database(args.kiosks))
    tmp = Path(tempfile.mkdtemp(prefix="iwm-bench-sessions-"))
    hb_file = tmp / "kiosks.txt"
    gc_dir = tmp / "gc"
    gc_dir.mkdir()
    hb_file.write_text("".join(f"{k} {key}\n" for k, key in fleet))
    print(f"workers: {args.workers} (cores: {os.cpu_count()}), kiosks: {len(fleet)}")
    # The figures are only as good as the machine is quiet: the load is printed with them.
    print(f"load average before the run: {os.getloadavg()[0]:.1f}")
    try:
        with app_server(args.workers, env_for(gc_dir)) as server:
            return asyncio.run(run(server, fleet, args.duration, hb_file, gc_dir, args.profile))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
