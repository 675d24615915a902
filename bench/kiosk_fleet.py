"""Kiosk fleet benchmark: 2,000 kiosks and 200 partners against PostgreSQL + Redis.

    .venv/bin/python bench/kiosk_fleet.py [--workers 2] [--duration 30]
    .venv/bin/python bench/kiosk_fleet.py --only-sqlshare [--workers 1]   (step 6 alone)

1. Builds (or reuses) the `iwm_bench` database (bench/dataset.py).
2. Ceiling: a FastAPI endpoint that does nothing (bench/bare_app.py), served by uvicorn
   with the same workers and options, driven as fast as wrk can (closed loop).
3. Serves the app (`iwm serve --workers N`) in its own process and logs the partners in.
4. Mixed run: heartbeats, new orders (multipart JPEG) and the partners' polling of
   /partner/orders/new and /partner/kiosks at once, each kind from its own wrk process
   paced at a constant rate, so each endpoint gets its own latency figures.
5. The highest heartbeat rate that keeps p99 under 50 ms: offered rates are stepped up
   and then bisected; a step passes when p99 < 50 ms and the achieved rate is at least
   97% of the offered one (wrk measures latency from the moment it writes a request, so a
   server that falls behind shows up as a rate that does not keep up).
6. SQL share of the two partner endpoints (/work/shared/tools/sqlshare.py).

Sessions of the partners are kept in /tmp/iwm-bench-tokens.txt and reused while they
live (an Argon2 login costs tens of milliseconds of CPU each).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres), Redis on 127.0.0.1:6379 (db 14 is
used) and `wrk` (Debian package `wrk`). Everything runs on 127.0.0.1.
"""
# ruff: noqa: S603, S108 (local commands with fixed arguments; fixed paths under /tmp)

import argparse
import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "wrk" / "fleet.lua"
SQLSHARE = Path("/work/shared/tools/sqlshare.py")
REDIS_URL = "redis://127.0.0.1:6379/14"
PHOTOS = Path("/tmp/iwm-bench-photos")
TOKENS = Path("/tmp/iwm-bench-tokens.txt")
P99_GOAL_MS = 50.0
KEEP_UP = 0.97

# The mixed run's offered load, requests per second: every kiosk sends a heartbeat every
# 2 s; a busy hour of orders; partners keep the "new orders" screen open (a refresh every
# 5 s) and look at their kiosks every 10 s.
MIXED = {
    "heartbeat": 1000.0,
    "order": 20.0,
    "orders_new": 40.0,
    "kiosks": 20.0,
}
LABELS = {
    "heartbeat": "POST /kiosk/{id}/heartbeat",
    "order": "POST /kiosk/{id}/orders",
    "orders_new": "GET /partner/orders/new",
    "kiosks": "GET /partner/kiosks",
    "bare": "POST /bare (does nothing)",
}


@dataclass
class WrkResult:
    kind: str
    offered: float
    requests: int
    seconds: float
    errors: int
    p50: float
    p95: float
    p99: float
    max: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def keeps_up(self) -> bool:
        return self.offered <= 0 or self.rate >= KEEP_UP * self.offered

    def row(self) -> str:
        offered = f"{self.offered:8.0f}" if self.offered else "     max"
        return (
            f"{LABELS[self.kind]:30} {offered} {self.rate:9.1f} {self.p50:8.2f} "
            f"{self.p95:8.2f} {self.p99:8.2f} {self.max:8.1f} {self.errors:7d}"
        )


HEADER = (
    f"{'endpoint':30} {'offered':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'p99 ms':>8} {'max ms':>8} {'errors':>7}"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn server in its own process group, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int) -> None:
        self.argv, self.env, self.port = argv, env, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, start_new_session=True, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.base}/healthz", timeout=1.0)
                time.sleep(1.0)  # let every worker finish its start-up
                return self
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"server did not answer within 60 s: {' '.join(self.argv)}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IWM_ENV="production",
        IWM_ALLOWED_HOSTS="127.0.0.1,localhost",
        IWM_DATABASE_URL=dataset.database_url(),
        IWM_REDIS_URL=REDIS_URL,
        IWM_STORAGE_URL=f"file://{PHOTOS}",
        IWM_SCHEDULER_ENABLED="false",
        IWM_SECRET_KEY="iwm-bench-signing-key-0c5e7a9d3b1f",
        IWM_LOG_LEVEL="WARNING",
        # Per worker: above the pool size SQLAlchemy opens and closes overflow connections
        # per request; 20 (+20 overflow) covers the fleet's concurrency.
        IWM_DB_POOL_SIZE="20",
        # 200 partners sign in from one address within seconds.
        IWM_LOGIN_ATTEMPTS_PER_MINUTE="100000",
    )
    return env


def app_server(workers: int, env: dict[str, str]) -> Server:
    port = free_port()
    argv = [str(BIN / "iwm"), "serve", "--port", str(port), "--workers", str(workers)]
    return Server(argv, env, port)


def bare_server(workers: int, env: dict[str, str]) -> Server:
    """The same uvicorn options as `iwm serve` (uvloop, httptools, no access log)."""
    port = free_port()
    argv = [
        str(BIN / "uvicorn"),
        "bare_app:create_app",
        "--factory",
        "--app-dir",
        str(ROOT / "bench"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-proxy-headers",
    ]
    return Server(argv, env, port)


def start_wrk(
    base: str, kind: str, data: Path | None, rate: float, seconds: int, conns: int, jpeg: Path
) -> subprocess.Popen[str]:
    env = dict(os.environ, IWM_WRK_PACED="1" if rate > 0 else "0")
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA)]
    argv += [base, "--", kind, str(data or "-"), str(rate), str(jpeg)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)


def finish_wrk(proc: subprocess.Popen[str], kind: str, rate: float) -> WrkResult:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk ({kind}) failed: {out}")
    line = next(x for x in out.splitlines() if x.startswith("{"))
    data = json.loads(line)
    errors = sum(
        data[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        kind=kind,
        offered=rate,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50=data["p50_us"] / 1000,
        p95=data["p95_us"] / 1000,
        p99=data["p99_us"] / 1000,
        max=data["max_us"] / 1000,
    )


def run_wrk(
    base: str,
    kind: str,
    data: Path | None,
    rate: float,
    seconds: int,
    conns: int,
    jpeg: Path,
) -> WrkResult:
    return finish_wrk(start_wrk(base, kind, data, rate, seconds, conns, jpeg), kind, rate)


def connections_for(rate: float) -> int:
    """Enough connections for the offered rate at 50 ms each, with room to spare."""
    return max(16, min(512, int(rate * 0.05 * 2)))


def mixed_run(base: str, files: dict[str, Path], jpeg: Path, seconds: int) -> list[WrkResult]:
    procs = {
        kind: start_wrk(base, kind, files[kind], rate, seconds, connections_for(rate), jpeg)
        for kind, rate in MIXED.items()
    }
    return [finish_wrk(proc, kind, MIXED[kind]) for kind, proc in procs.items()]


def heartbeat_search(
    base: str, kiosks: Path, jpeg: Path, start: float, ceiling: float, seconds: int
) -> tuple[float, list[WrkResult]]:
    """Steps the offered heartbeat rate up by 30% until a step fails, then bisects."""
    tried: list[WrkResult] = []

    def attempt(rate: float) -> bool:
        result = run_wrk(base, "heartbeat", kiosks, rate, seconds, connections_for(rate), jpeg)
        tried.append(result)
        ok = result.keeps_up() and result.p99 < P99_GOAL_MS and result.errors == 0
        print(f"  {result.row()}  {'pass' if ok else 'FAIL'}", flush=True)
        return ok

    good, bad = 0.0, None
    rate = start
    while bad is None and rate <= ceiling * 1.05:
        if attempt(rate):
            good, rate = rate, rate * 1.3
        else:
            bad = rate
    if bad is None:
        return good, tried
    if good == 0.0:
        good_floor, rate = 0.0, start / 2
        while rate >= 50 and not attempt(rate):
            rate /= 2
        good = rate if rate >= 50 else good_floor
        bad = rate * 2
    for _ in range(3):
        mid = round((good + bad) / 2, -1)
        if mid in (good, bad):
            break
        if attempt(mid):
            good = mid
        else:
            bad = mid
    return good, tried


def login_all(base: str, emails: list[str], password: str) -> list[str]:
    async def go() -> list[str]:
        sem = asyncio.Semaphore(4)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def one(email: str) -> str:
                async with sem:
                    r = await client.post(
                        "/auth/login", json={"email": email, "password": password}
                    )
                    r.raise_for_status()
                    return str(r.json()["token"])

            return list(await asyncio.gather(*(one(e) for e in emails)))

    return asyncio.run(go())


def sql_share(workers: int, env: dict[str, str], email: str, password: str) -> str:
    """sqlshare.py against a server started after statement logging was switched on."""
    if not SQLSHARE.exists() or not shutil.which("psql"):
        return "sqlshare.py or psql not available: skipped\n"
    py = sys.executable
    db = dataset.DB_NAME
    subprocess.run([py, str(SQLSHARE), "--db", db, "--enable"], check=True)
    try:
        with app_server(workers, env) as server:
            token = login_all(server.base, [email], password)[0]
            # --token=...: a token may start with "-", which argparse takes for an option.
            argv = [py, str(SQLSHARE), "--base", server.base, "--db", db, f"--token={token}"]
            argv += ["--n", "300"]
            # The ceiling of the same run: an answer with no login and no SQL, through the
            # same server, middleware and client (its own call: with no SQL, its ratio
            # would be infinite).
            bare = subprocess.run(
                [*argv, "GET:/healthz"], check=True, capture_output=True, text=True
            ).stdout.splitlines()
            argv += ["GET:/partner/orders/new", "GET:/partner/kiosks"]
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            ceiling = next((line for line in bare if line.startswith("GET:/healthz")), "")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            return f"{out}ceiling: {ceiling}\nload average (1, 5, 15 min): {load}\n"
    finally:
        subprocess.run([py, str(SQLSHARE), "--db", db, "--disable"], check=True)


def only_sql_share(workers: int) -> int:
    """`--only-sqlshare`: the data set, then the SQL share alone."""
    fleet = asyncio.run(dataset.prepare())
    print("== SQL share (sqlshare.py, 300 calls each, one client)")
    print(sql_share(workers, server_env(), fleet.partner_emails[0], fleet.password), end="")
    return 0


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "#2a9d8f").save(out, "JPEG", quality=80)
    return out.getvalue()


def partner_tokens(base: str, fleet: dataset.Fleet) -> list[str]:
    """The partners' session tokens: the cached ones that still work, new logins for the
    rest."""
    cached = TOKENS.read_text().split() if TOKENS.exists() else []
    emails = fleet.partner_emails
    if len(cached) == len(emails):

        async def alive() -> list[bool]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                rs = await asyncio.gather(
                    *(
                        client.get("/auth/me", headers={"Authorization": f"Bearer {t}"})
                        for t in cached
                    )
                )
                return [r.status_code == 200 for r in rs]

        live = asyncio.run(alive())
    else:
        cached, live = [""] * len(emails), [False] * len(emails)
    stale = [i for i, ok in enumerate(live) if not ok]
    fresh = login_all(base, [emails[i] for i in stale], fleet.password) if stale else []
    for i, token in zip(stale, fresh, strict=True):
        cached[i] = token
    TOKENS.write_text("".join(f"{t}\n" for t in cached))
    print(f"\n{len(emails)} partners signed in ({len(stale)} new logins)")
    return cached


def ceiling_run(workers: int, env: dict[str, str], jpeg: Path) -> WrkResult:
    print("\n== ceiling: a FastAPI endpoint that does nothing (closed loop, 64 connections)")
    with bare_server(workers, env) as bare:
        run_wrk(bare.base, "bare", None, 0, 3, 64, jpeg)
        ceiling = run_wrk(bare.base, "bare", None, 0, 10, 64, jpeg)
    print(HEADER)
    print(ceiling.row())
    return ceiling


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers (2 cores: 2)")
    ap.add_argument("--duration", type=int, default=30, help="seconds of the mixed run")
    ap.add_argument("--step", type=int, default=8, help="seconds of each heartbeat step")
    ap.add_argument("--no-sqlshare", action="store_true")
    ap.add_argument(
        "--only-sqlshare",
        action="store_true",
        help="only the SQL share of the two partner endpoints (no wrk runs)",
    )
    args = ap.parse_args()
    if args.only_sqlshare:
        return only_sql_share(args.workers)
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2

    started = time.monotonic()
    fleet = asyncio.run(dataset.prepare())
    shutil.rmtree(PHOTOS, ignore_errors=True)
    PHOTOS.mkdir(parents=True)
    env = server_env()
    tmp = Path(tempfile.mkdtemp(prefix="iwm-bench-"))
    jpeg = tmp / "photo.jpg"
    jpeg.write_bytes(small_jpeg())
    kiosks = tmp / "kiosks.txt"
    kiosks.write_text("".join(f"{k} {key}\n" for k, key in fleet.kiosks))
    tokens = tmp / "tokens.txt"
    files = {"heartbeat": kiosks, "order": kiosks, "orders_new": tokens, "kiosks": tokens}
    print(f"workers: {args.workers} (cores: {os.cpu_count()}), load generator: wrk -t1")
    ceiling = ceiling_run(args.workers, env, jpeg)

    with app_server(args.workers, env) as server:
        tokens.write_text("".join(f"{t}\n" for t in partner_tokens(server.base, fleet)))
        for kind in MIXED:  # warm-up: connections, prepared statements, caches
            run_wrk(server.base, kind, files[kind], 0 if kind == "heartbeat" else 50, 2, 8, jpeg)

        print(f"\n== mixed run, {args.duration} s (offered rates per endpoint, constant pace)")
        mixed = mixed_run(server.base, files, jpeg, args.duration)
        print(HEADER)
        for result in mixed:
            print(result.row())

        print(f"\n== heartbeat alone: highest rate with p99 < {P99_GOAL_MS:.0f} ms")
        print(f"  {HEADER}")
        best, _ = heartbeat_search(server.base, kiosks, jpeg, 1000.0, ceiling.rate, args.step)

    share = ""
    if not args.no_sqlshare:
        print("\n== SQL share (sqlshare.py, 300 calls each, one client)")
        share = sql_share(args.workers, env, fleet.partner_emails[0], fleet.password)
        print(share, end="")

    by_kind = {r.kind: r for r in mixed}
    hb, new = by_kind["heartbeat"], by_kind["orders_new"]
    print("\n== summary")
    print(f"bare endpoint ceiling:              {ceiling.rate:8.0f} req/s")
    print(
        f"max heartbeat rate with p99<50ms:   {best:8.0f} req/s "
        f"({best / ceiling.rate:.0%} of the ceiling)"
    )
    goals = [
        ("heartbeat p99 < 50 ms at 1,000 req/s (mixed run)", hb.keeps_up() and hb.p99 < 50),
        ("max heartbeat rate >= half the ceiling", best >= ceiling.rate / 2),
        ("/partner/orders/new p95 < 25 ms (mixed run)", new.p95 < 25),
        ("no errors in the mixed run", all(r.errors == 0 for r in mixed)),
    ]
    for text, ok in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    print(f"total time: {time.monotonic() - started:.0f} s")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
