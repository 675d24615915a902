"""Shop screens benchmark: 200 shops' "new orders" screens open at once, live by polling
or by server-sent events, against bench/kiosk_fleet.py's data set and a mixed load.

    .venv/bin/python bench/shop_screens.py [--workers 2] [--duration 30] [--screens 200]

1. Builds (or reuses) the `iwm_bench` database (bench/dataset.py): 200 partners, 2,000
   kiosks, 1,000,000 orders.
2. Ceiling: the same client driving a FastAPI endpoint that does nothing
   (bench/bare_app.py, same uvicorn options), closed loop: what this machine and this
   load generator can do at all.
3. For each live mode (`IWM_DASHBOARD_LIVE=poll`, then `sse`), serves the app with that
   mode (`iwm serve --workers N`, PostgreSQL and Redis) and, for --duration seconds:
   - one screen per partner, signed in with the dashboard's cookie: polling screens ask
     /dashboard/orders/live?v=<fingerprint> every 3 s (204 when nothing changed); SSE
     screens hold /dashboard/orders/stream open and fetch /dashboard/orders/live when told;
   - the mixed load: kiosk heartbeats, the partners' API (/partner/orders/new,
     /partner/kiosks), and new orders uploaded by random kiosks (multipart JPEG);
   - for each uploaded order, the time from the kiosk's answer to the moment its shop's
     screen holds the order's card.
4. Prints per mode: p50/p95/max of upload -> screen (goals: 3 s polling, 0.5 s SSE), the
   server's requests/s for the screens and per open screen, open connections, the
   server's memory (RSS of its processes) before and with the screens open, and CPU.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (db 14).
"""

import argparse
import asyncio
import contextlib
import io
import os
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset
import kiosk_fleet

GOALS_MS = {"poll": 3000.0, "sse": 500.0}
POLL_SECONDS = 3.0
# The mixed load, per second: heartbeats (a tenth of the fleet's 1,000/s: the load
# generator shares the machine's 2 cores with the server), the partners' API, uploads.
HEARTBEATS = 100.0
PARTNER_API = 10.0
UPLOADS = 2.0
CARD = re.compile(r'id="order-([0-9a-f-]{36})"')
FINGERPRINT = re.compile(r'data-fingerprint="([0-9a-f]+)"')


@dataclass
class Run:
    mode: str
    latencies: list[float] = field(default_factory=list)
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)  # order -> (shop, t)
    screen_requests: int = 0
    answer_ms: list[float] = field(default_factory=list)  # each screen request's answer
    screen_errors: int = 0
    uploads: int = 0
    upload_errors: int = 0
    background: int = 0
    connections: int = 0
    stop: float = float("inf")  # the screens run until the measured window is over

    def seen(self, shop: int, html: str) -> None:
        now = time.perf_counter()
        for order_id in CARD.findall(html):
            found = self.pending.get(order_id)
            if found is not None and found[0] == shop:
                del self.pending[order_id]
                self.latencies.append((now - found[1]) * 1000)


def rss_kb(pid: int) -> int:
    """RSS of a process and its children (uvicorn's workers), in KiB."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return total


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "#e76f51").save(out, "JPEG", quality=80)
    return out.getvalue()


async def poll_screen(http: httpx.AsyncClient, token: str, shop: int, run: Run) -> None:
    cookie = {"Cookie": f"iwm_session={token}"}
    await asyncio.sleep(random.uniform(0, POLL_SECONDS))
    fingerprint = ""
    while time.perf_counter() < run.stop:
        started = time.perf_counter()
        try:
            resp = await http.get(
                "/dashboard/orders/live", params={"v": fingerprint}, headers=cookie
            )
            run.screen_requests += 1
            run.answer_ms.append((time.perf_counter() - started) * 1000)
            if resp.status_code == 200:
                run.seen(shop, resp.text)
                found = FINGERPRINT.search(resp.text)
                fingerprint = found.group(1) if found else ""
            elif resp.status_code != 204:
                run.screen_errors += 1
        except httpx.HTTPError:
            run.screen_errors += 1
        await asyncio.sleep(max(0.0, POLL_SECONDS - (time.perf_counter() - started)))


async def sse_screen(http: httpx.AsyncClient, token: str, shop: int, run: Run) -> None:
    cookie = {"Cookie": f"iwm_session={token}"}
    await asyncio.sleep(random.uniform(0, 2))
    while time.perf_counter() < run.stop:
        try:
            async with http.stream("GET", "/dashboard/orders/stream", headers=cookie) as stream:
                run.connections += 1
                try:
                    async for line in stream.aiter_lines():
                        if time.perf_counter() >= run.stop:
                            return
                        if line.startswith("event: change"):
                            resp = await http.get("/dashboard/orders/live", headers=cookie)
                            run.screen_requests += 1
                            if resp.status_code == 200:
                                run.seen(shop, resp.text)
                            else:
                                run.screen_errors += 1
                finally:
                    run.connections -= 1
        except httpx.HTTPError:
            if time.perf_counter() < run.stop:
                run.screen_errors += 1
                await asyncio.sleep(1)


async def paced(rate: float, stop: float, act: "asyncio.Future[None] | object") -> None:
    """Calls `act()` `rate` times a second until `stop`, without waiting for answers."""
    interval = 1.0 / rate
    next_at = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()
    while next_at < stop:
        task = asyncio.create_task(act())  # type: ignore[operator]
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    if tasks:
        await asyncio.wait(tasks, timeout=10)


async def mixed_load(
    base: str, fleet: dataset.Fleet, tokens: list[str], run: Run, stop: float
) -> None:
    photo = jpeg()
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as http:

        async def heartbeat() -> None:
            kiosk, key = random.choice(fleet.kiosks)
            try:
                await http.post(
                    f"/kiosk/{kiosk}/heartbeat", headers={"Authorization": f"Bearer {key}"}
                )
                run.background += 1
            except httpx.HTTPError:
                pass

        async def partner_api() -> None:
            path = random.choice(["/partner/orders/new", "/partner/kiosks"])
            try:
                await http.get(path, headers={"Authorization": f"Bearer {random.choice(tokens)}"})
                run.background += 1
            except httpx.HTTPError:
                pass

        async def upload() -> None:
            index = random.randrange(len(fleet.kiosks))
            kiosk, key = fleet.kiosks[index]
            shop = index // dataset.KIOSKS_PER_PARTNER
            try:
                resp = await http.post(
                    f"/kiosk/{kiosk}/orders",
                    headers={"Authorization": f"Bearer {key}"},
                    data={"customerName": "Bench Customer", "customerPhone": "+972501234567"},
                    files={"image": ("p.jpg", photo, "image/jpeg")},
                )
            except httpx.HTTPError:
                run.upload_errors += 1
                return
            if resp.status_code != 201:
                run.upload_errors += 1
                return
            run.uploads += 1
            run.pending[resp.json()["id"]] = (shop, time.perf_counter())

        await asyncio.gather(
            paced(HEARTBEATS, stop, heartbeat),
            paced(PARTNER_API, stop, partner_api),
            paced(UPLOADS, stop, upload),
        )


async def run_mode(
    mode: str,
    base: str,
    pid: int,
    fleet: dataset.Fleet,
    tokens: list[str],
    seconds: int,
    screens: int,
) -> Run:
    run = Run(mode)
    idle_rss = rss_kb(pid)
    screen = poll_screen if mode == "poll" else sse_screen
    # One client for all screens (a client each costs a TLS context's worth of CPU).
    limits = httpx.Limits(max_connections=2 * screens + 20, max_keepalive_connections=2 * screens)
    timeout = httpx.Timeout(10, read=60)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as http:
        tasks = [asyncio.create_task(screen(http, tokens[i], i, run)) for i in range(screens)]
        await asyncio.sleep(6)  # every screen open before the measured window
        stop = time.perf_counter() + seconds
        run.stop = stop + 5
        cpu0, requests0, wall0 = cpu_seconds(pid), run.screen_requests, time.perf_counter()
        open_rss = rss_kb(pid)
        await mixed_load(base, fleet, tokens, run, stop)
        await asyncio.sleep(4)  # the last uploads reach their screens
        wall = time.perf_counter() - wall0
        cpu = cpu_seconds(pid) - cpu0
        screen_rps = (run.screen_requests - requests0) / wall
        connections = run.connections
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    missed = len(run.pending)
    lat = sorted(run.latencies)
    p50 = statistics.median(lat) if lat else float("nan")
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    print(f"\n== {mode}: {screens} screens open, {seconds} s of mixed load")
    print(
        f"  uploads: {run.uploads} ({run.upload_errors} errors),"
        f" background requests: {run.background}"
    )
    print(
        f"  upload -> screen: p50 {p50:.0f} ms, p95 {p95:.0f} ms,"
        f" max {lat[-1] if lat else 0:.0f} ms"
        f"  (goal p95 < {GOALS_MS[mode]:.0f} ms: {'met' if p95 < GOALS_MS[mode] else 'MISSED'});"
        f" seen {len(lat)}, not seen {missed}"
    )
    print(
        f"  screens: {screen_rps:.1f} requests/s in all, {screen_rps / screens:.3f} per screen;"
        f" open streams: {connections}; errors: {run.screen_errors}"
    )
    if run.answer_ms:
        answers = sorted(run.answer_ms)
        print(
            f"  a screen's poll answered in p50 {statistics.median(answers):.0f} ms,"
            f" p95 {answers[int(0.95 * (len(answers) - 1))]:.0f} ms"
        )
    print(
        f"  server memory: {idle_rss / 1024:.0f} MiB before, {open_rss / 1024:.0f} MiB with the"
        f" screens open ({(open_rss - idle_rss) / screens:.0f} KiB per screen);"
        f" server CPU: {100 * cpu / wall:.0f}% of one core"
    )
    return run


async def ceiling(base: str, seconds: float) -> float:
    """Closed loop on the endpoint that does nothing: requests/s this client reaches."""
    done = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await http.post("/bare")
                done += 1

        await asyncio.gather(*(loop() for _ in range(32)))
    return done / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--screens", type=int, default=200)
    ap.add_argument("--modes", default="poll,sse")
    args = ap.parse_args()
    fleet = asyncio.run(dataset.prepare())
    kiosk_fleet.PHOTOS.mkdir(parents=True, exist_ok=True)
    env = kiosk_fleet.server_env()
    # PostgreSQL here allows 100 connections, shared with others: a small pool per worker.
    env["IWM_DB_POOL_SIZE"] = "6"
    print(f"workers: {args.workers} (cores: {os.cpu_count()}), screens: {args.screens}")
    with kiosk_fleet.bare_server(args.workers, env) as bare:
        asyncio.run(ceiling(bare.base, 2))
        rps = asyncio.run(ceiling(bare.base, 8))
    print(f"ceiling: {rps:.0f} requests/s on an endpoint that does nothing (this client)")
    for mode in args.modes.split(","):
        mode_env = dict(env, IWM_DASHBOARD_LIVE=mode)
        with kiosk_fleet.app_server(args.workers, mode_env) as server:
            if server.proc is None:
                raise RuntimeError("the server did not start")
            tokens = kiosk_fleet.partner_tokens(server.base, fleet)
            asyncio.run(
                run_mode(
                    mode, server.base, server.proc.pid, fleet, tokens, args.duration, args.screens
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
