"""Members' checkouts end to end: order, payment webhook, commissions for a 10-level upline.

    .venv/bin/python bench/checkout.py [--workers 2] [--clients 8] [--duration 30]

1. Builds the `iwm_bench_checkout` database afresh (migrations), then through the
   services: a chain of 11 partners (a 10-level plan), `--buyers` members under its
   bottom partner, each with an address, and a product with stock for the whole run.
2. Captures the SQL of one checkout (POST /api/v1/orders, then the provider's signed
   webhook that pays it and creates the commissions) from an in-process app with the
   server's settings, and replays it on one plain asyncpg connection, in one transaction
   rolled back each time (the rows would collide otherwise, so the replay has no commit
   cost: a generous ceiling).
3. Serves the app (`iwm serve --workers N`, PostgreSQL + Redis). The members log in one
   after another (connections that arrive in the same instant all go to the worker that
   wakes first). A checkout is the order on the member's connection, then the webhook
   as the provider sends it, on a connection of its own (signed; the payment's
   reference computed as the simulated provider makes it); it counts when both
   answered 200/201.
4. Run 1, the most checkouts: `--clients` members at once, each checking out again as
   soon as his last is done; the rate counts until every paid sale's commissions are
   booked (right after each webhook's answer). Run 2, the answers' times at 40% of the
   ceiling's rate: checkouts started at that rate whatever the answers' times, over
   twice `--buyers` connections. Each run prints the orders' and the webhook's p50/p95
   and each worker's CPU. Goals: run 1 at least 40% of the ceiling's rate; run 2 keeps
   up with its rate and its webhook p95 < 50 ms.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (db 14,
keys under its own prefix). Everything runs on 127.0.0.1.
"""
# ruff: noqa: S101 (a script: asserts state what it expects)

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kiosk_fleet import REDIS_URL, app_server
from kiosk_sessions import Http1, cpu_seconds, workers_of

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.main import create_app
from iwm.modules.network.service import NetworkService
from iwm.modules.payments.provider import event_body, sign
from iwm.modules.products.schemas import ProductCreate
from iwm.modules.products.service import ProductService
from iwm.modules.users.service import UserService, principal_of

PG_DSN = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "iwm_bench_checkout"
# A copy of the built database where the captured checkout commits its rows, so that its
# statements replay on the untouched original.
CAPTURE_DB = "iwm_bench_checkout_capture"
WEBHOOK_SECRET = "iwm-bench-checkout-webhook-7c1d"
PASSWORD = "Bench-checkout-1!"
LEVELS = 10
RATES = "30,15,10,10,5,5,5,5,5,5"
RATE_GOAL = 0.40
WEBHOOK_P95_GOAL_MS = 50.0
WEBHOOK = "/api/v1/payments/webhook"


def env_for(db_name: str = DB_NAME) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IWM_ENV="production",
        IWM_ALLOWED_HOSTS="127.0.0.1,localhost,bench",
        IWM_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}",
        IWM_REDIS_URL=REDIS_URL,
        IWM_REDIS_PREFIX=f"bench-checkout-{os.getpid()}",
        IWM_STORAGE_URL=f"file:///tmp/{DB_NAME}-files",
        IWM_SECRET_KEY="iwm-bench-checkout-signing-key-93af",
        IWM_PAYMENT_WEBHOOK_SECRET=WEBHOOK_SECRET,
        IWM_PUBLIC_BASE_URL="http://127.0.0.1",
        IWM_SCHEDULER_ENABLED="false",
        IWM_LOG_LEVEL="WARNING",
        IWM_COMMISSION_LEVEL_RATES=RATES,
        IWM_LOGIN_ATTEMPTS_PER_MINUTE="100000",
    )
    return env


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})


@dataclass
class World:
    product_id: str
    buyers: list[tuple[str, str]]  # (email, address id)


async def build(resources: Resources, buyers: int, stock: int) -> World:
    """The partner chain, the buyers with their addresses, the product: through services."""
    password_hash = resources.passwords.hash(PASSWORD)
    settings = resources.settings
    async with resources.sessionmaker.begin() as db:
        users = UserService(db)
        admin = await users.create(
            "admin@bench.local",
            {Role.SUPER_ADMIN},
            password_hash=password_hash,
            first_name="Bench",
            last_name="Admin",
        )
        sponsor = None
        for i in range(LEVELS + 1):
            user = await users.create(
                f"partner{i}@bench.local",
                {Role.USER},
                password_hash=password_hash,
                first_name="Bench",
                last_name=f"N{i}",
            )
            partner = await NetworkService(db, settings).enroll(
                user.id, sponsor.id if sponsor else None
            )
            sponsor = partner
        assert sponsor is not None
        made: list[tuple[str, str]] = []
        for i in range(buyers):
            user = await users.create(
                f"buyer{i}@bench.local",
                {Role.USER},
                password_hash=password_hash,
                first_name="Bench",
                last_name=f"N{i}",
            )
            # A partner profile under the chain: every sale pays all ten levels.
            await NetworkService(db, settings).enroll(user.id, sponsor.id)
            address = await users.save_address(
                user.id,
                {"country": "DE", "city": "Berlin", "street": "Main", "building": "1"},
                None,
                settings.addresses_per_member,
            )
            made.append((user.email, str(address.id)))
        product = await ProductService(db).create(
            principal_of(admin),
            ProductCreate(
                name="Bench Vitamins",
                description="for the benchmark",
                price=Decimal("25.00"),
                sku="BENCH-1",
                status="ACTIVE",
                stock_quantity=stock,
                track_inventory=True,
                commission_percentage=Decimal(20),
                career_points_percentage=Decimal(5),
            ),
        )
    return World(str(product.id), made)


def reference_of(order_id: str) -> str:
    """The simulated provider's payment reference for an order's payment."""
    key = f"shop_order:{order_id}"
    return f"sim_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def order_body(world: World, address: str) -> bytes:
    return json.dumps(
        {
            "items": [{"productId": world.product_id, "quantity": 1}],
            "shippingAddressId": address,
            "shippingMethod": "STANDARD",
        }
    ).encode()


def signed(body: bytes) -> str:
    return (
        f"Webhook-Signature: {sign(WEBHOOK_SECRET.encode(), body)}\r\n"
        "Content-Type: application/json\r\n"
    )


async def capture(env: dict[str, str], world: World) -> list[tuple[str, Any, bool]]:
    """The SQL of one checkout (the order and its webhook), after a first one to warm up."""
    app = create_app(settings_of(env))
    resources: Resources = app.state.resources
    captured: list[tuple[str, Any, bool]] = []

    @event.listens_for(resources.engine.sync_engine, "before_cursor_execute")
    def _capture(_c: Any, _cur: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        # A batched INSERT (insertmanyvalues) is "many" with one flat list of parameters.
        if many and parameters and isinstance(parameters[0], (tuple, list)):
            captured.append((statement, [tuple(p) for p in parameters], True))
        else:
            captured.append((statement, tuple(parameters or ()), False))

    email, address = world.buyers[0]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            resp = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            token = {"Authorization": f"Bearer {resp.json()['token']}"}
            for _ in range(2):
                captured.clear()
                placed = await client.post(
                    "/api/v1/orders",
                    content=order_body(world, address),
                    headers={**token, "Idempotency-Key": uuid.uuid4().hex, **_json},
                )
                assert placed.status_code == 201, placed.text
                body = event_body(
                    "payment.succeeded", reference_of(placed.json()["data"]["order"]["id"])
                )
                paid = await client.post(
                    WEBHOOK,
                    content=body,
                    headers={"Webhook-Signature": sign(WEBHOOK_SECRET.encode(), body), **_json},
                )
                assert paid.status_code == 200, paid.text
    finally:
        await resources.close()
    return list(captured)


_json = {"Content-Type": "application/json"}


async def ceiling(statements: list[tuple[str, Any, bool]], seconds: float) -> float:
    """Checkouts/s of the captured SQL on one plain connection (rolled back each time)."""
    raw = await asyncpg.connect(f"{PG_DSN}/{DB_NAME}")
    try:
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            tx = raw.transaction()
            await tx.start()
            for statement, parameters, many in statements:
                if many:
                    await raw.executemany(statement, parameters)
                else:
                    await raw.fetch(statement, *parameters)
            await tx.rollback()
            done += 1
        return done / (time.perf_counter() - start)
    finally:
        await raw.close()


@dataclass
class Results:
    checkouts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    webhook_ms: list[float] = field(default_factory=list)
    order_ms: list[float] = field(default_factory=list)


async def signed_in(port: int, world: World, index: int) -> tuple[Http1, str]:
    """A member's connection and the headers of his requests, after his login."""
    email, _ = world.buyers[index % len(world.buyers)]
    http = Http1(port)
    login = json.dumps({"email": email, "password": PASSWORD}).encode()
    status, body = await http.request(
        "POST", "/auth/login", "Content-Type: application/json\r\n", login
    )
    assert status == 200, body
    return http, (
        f"Authorization: Bearer {json.loads(body)['token']}\r\nContent-Type: application/json\r\n"
    )


async def checkout(http: Http1, auth: str, world: World, index: int, results: Results) -> None:
    """One checkout as the member and the provider make it: the order on the member's
    connection, then the webhook that pays it."""
    _, address = world.buyers[index % len(world.buyers)]
    t = time.perf_counter()
    status, body = await http.request(
        "POST",
        "/api/v1/orders",
        auth + f"Idempotency-Key: {uuid.uuid4().hex}\r\n",
        order_body(world, address),
    )
    if status != 201:
        results.errors[f"order {status}"] = results.errors.get(f"order {status}", 0) + 1
        return
    results.order_ms.append((time.perf_counter() - t) * 1000)
    order_id = json.loads(body)["data"]["order"]["id"]
    event = event_body("payment.succeeded", reference_of(order_id))
    t = time.perf_counter()
    # As a provider delivers its webhooks: each on a connection of its own (which the
    # first worker free to accept it takes), not on the member's.
    provider = Http1(http.port)
    try:
        status, body = await provider.request("POST", WEBHOOK, signed(event), event)
    finally:
        provider.close()
    if status != 200:
        results.errors[f"webhook {status}"] = results.errors.get(f"webhook {status}", 0) + 1
        return
    results.webhook_ms.append((time.perf_counter() - t) * 1000)
    results.checkouts += 1


async def member(
    http: Http1, auth: str, world: World, index: int, until: float, results: Results
) -> None:
    """A member checking out one order after another until `until`."""
    while time.monotonic() < until:
        await checkout(http, auth, world, index, results)


async def drained(patience: float = 60.0) -> float:
    """Seconds until no paid sale waits for its commissions (the booking after the
    webhook's answer)."""
    raw = await asyncpg.connect(f"{PG_DSN}/{DB_NAME}")
    try:
        start = time.perf_counter()
        while await raw.fetchval("SELECT count(*) FROM pending_sales"):
            if time.perf_counter() - start > patience:
                raise RuntimeError("sales still waiting for their commissions")
            await asyncio.sleep(0.01)
        return time.perf_counter() - start
    finally:
        await raw.close()


async def commissions_booked() -> int:
    raw = await asyncpg.connect(f"{PG_DSN}/{DB_NAME}")
    try:
        return int(await raw.fetchval("SELECT count(*) FROM commissions"))
    finally:
        await raw.close()


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def prepare(buyers: int, stock: int) -> tuple[dict[str, str], World]:
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await admin.close()
    env = env_for()
    await asyncio.to_thread(upgrade_head, env["IWM_DATABASE_URL"])
    app = create_app(settings_of(env))
    resources: Resources = app.state.resources
    try:
        world = await build(resources, buyers, stock)
    finally:
        await resources.close()
    admin = await asyncpg.connect(f"{PG_DSN}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{CAPTURE_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{CAPTURE_DB}" TEMPLATE "{DB_NAME}"')
    finally:
        await admin.close()
    return env, world


async def signed_in_members(port: int, world: World, count: int) -> list[tuple[Http1, str]]:
    # The members arrive one after another, as on a live site, not all in the same
    # millisecond: the workers share the listening socket, and connections that arrive
    # at one instant are all accepted by whichever worker wakes first.
    return [await signed_in(port, world, i) for i in range(count)]


async def load(port: int, world: World, clients: int, seconds: float) -> tuple[Results, float]:
    """The most checkouts the server makes: `clients` members, each checking out again as
    soon as his last checkout is done."""
    members = await signed_in_members(port, world, clients)
    results = Results()
    until = time.monotonic() + seconds
    start = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                member(http, auth, world, i, until, results)
                for i, (http, auth) in enumerate(members)
            )
        )
    finally:
        for http, _ in members:
            http.close()
    return results, time.perf_counter() - start


async def paced(
    port: int, world: World, rate: float, seconds: float, connections: int
) -> tuple[Results, float]:
    """Checkouts started at a fixed `rate` whatever the answers' times (an open load, as
    from many members), each on a connection free at that moment: the latencies at that
    load, not at the server's limit."""
    free: asyncio.Queue[tuple[int, Http1, str]] = asyncio.Queue()
    members = await signed_in_members(port, world, connections)
    for i, (http, auth) in enumerate(members):
        free.put_nowait((i, http, auth))
    results = Results()

    async def one() -> None:
        i, http, auth = await free.get()
        try:
            await checkout(http, auth, world, i, results)
        finally:
            free.put_nowait((i, http, auth))

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    try:
        for k in range(round(rate * seconds)):
            await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    finally:
        for http, _ in members:
            http.close()
    return results, time.perf_counter() - start


class WorkerCpu:
    """CPU seconds per second of each worker of the server, between `start` and `stop`
    (shows both workers busy, not one)."""

    def __init__(self, server_pid: int) -> None:
        self.workers = workers_of(server_pid)
        self.began, self.marks = 0.0, [0.0] * len(self.workers)

    def start(self) -> None:
        self.began, self.marks = time.monotonic(), [cpu_seconds(p) for p in self.workers]

    def stop(self) -> str:
        seconds = time.monotonic() - self.began
        used = [
            (cpu_seconds(p) - m) / seconds for p, m in zip(self.workers, self.marks, strict=True)
        ]
        return ", ".join(f"{u:.2f}" for u in used)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--buyers", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()

    env, world = asyncio.run(prepare(args.buyers, stock=1_000_000))
    statements = asyncio.run(capture(env_for(CAPTURE_DB), world))
    print(f"one checkout: {len(statements)} statements (order + webhook with commissions)")
    ceiling_rate = asyncio.run(ceiling(statements, min(args.duration, 15.0)))
    goal_rate = RATE_GOAL * ceiling_rate
    print(f"ceiling: the same statements on one asyncpg connection: {ceiling_rate:.1f}/s")
    print(f"load average before the run (1, 5, 15 min): {loadavg()}")
    with app_server(args.workers, env) as server:
        assert server.proc is not None
        cpu = WorkerCpu(server.proc.pid)
        asyncio.run(load(server.port, world, 2, 3.0))  # warm up every worker
        booked_before = asyncio.run(commissions_booked())
        cpu.start()
        results, elapsed = asyncio.run(load(server.port, world, args.clients, args.duration))
        # The commissions are booked right after each webhook's answer: a checkout is done
        # end to end once its commissions exist, so the rate waits for the last of them.
        lag = asyncio.run(drained())
        busy = cpu.stop()
        booked = asyncio.run(commissions_booked()) - booked_before
        cpu.start()
        at_goal, paced_elapsed = asyncio.run(
            paced(server.port, world, goal_rate, args.duration, 2 * args.buyers)
        )
        paced_lag = asyncio.run(drained())
        paced_busy = cpu.stop()
    load_after = loadavg()
    rate = results.checkouts / (elapsed + lag)
    paced_rate = at_goal.checkouts / (paced_elapsed + paced_lag)
    print(
        f"\n1. the most checkouts: {args.clients} members at once, each checking out again "
        f"as soon as the last is done ({args.workers} workers, {args.duration:.0f} s)"
    )
    print(f"   checkouts end to end: {rate:.1f}/s ({results.checkouts} checkouts)")
    print(f"   share of the ceiling: {rate / ceiling_rate:.0%} (goal >= {RATE_GOAL:.0%})")
    report(results, lag)
    print(
        f"   commissions booked: {booked} ({booked / max(results.checkouts, 1):.0f} per checkout)"
    )
    print(f"   workers' CPU (seconds per second): {busy}")
    print(
        f"\n2. at {RATE_GOAL:.0%} of the ceiling: checkouts started at {goal_rate:.1f}/s "
        f"whatever the answers' times ({2 * args.buyers} connections, {args.duration:.0f} s)"
    )
    print(f"   checkouts end to end: {paced_rate:.1f}/s ({at_goal.checkouts} checkouts)")
    report(at_goal, paced_lag)
    print(f"   workers' CPU (seconds per second): {paced_busy}")
    print(f"\nload average after the run (1, 5, 15 min): {load_after}")
    p95 = percentile(at_goal.webhook_ms, 95)
    met = (
        rate >= goal_rate
        and paced_rate >= 0.95 * goal_rate
        and not at_goal.errors
        and p95 < WEBHOOK_P95_GOAL_MS
    )
    print("goals met" if met else "goals missed")
    return 0 if met else 1


def report(results: Results, lag: float) -> None:
    """The answers' times and errors of one phase."""
    print(
        f"   POST /api/v1/orders p50 {statistics.median(results.order_ms):.1f} ms, "
        f"p95 {percentile(results.order_ms, 95):.1f} ms"
    )
    print(
        f"   webhook p50 {statistics.median(results.webhook_ms):.1f} ms, "
        f"p95 {percentile(results.webhook_ms, 95):.1f} ms (goal < {WEBHOOK_P95_GOAL_MS:.0f} ms)"
    )
    print(f"   the last commission booked {lag * 1000:.0f} ms after the last webhook's answer")
    print(f"   errors: {results.errors or 'none'}")


if __name__ == "__main__":
    raise SystemExit(main())
