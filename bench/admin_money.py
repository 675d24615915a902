"""Admin money lists on a large data set, against the same SQL run directly.

    flock /tmp/iwm-bench.lock .venv/bin/python bench/admin_money.py [--rebuild] [--runs 200]

1. Builds (or reuses) the `iwm_bench_money` PostgreSQL database with the migrations and
   fills it with COPY: 100,000 users, 20,000 partners, 5,000,000 commissions, 1,000,000
   shop orders with about 2,000,000 items, 100,000 payouts. Secondary indexes are dropped
   during the load and rebuilt after it; the running totals the services keep
   (`commission_totals`, `shop_order_totals`) are recomputed from the rows with SQL;
   then VACUUM ANALYZE.
2. Starts `iwm serve` in its own process on that database (Redis db 12, scheduler off,
   admin rate limit lifted) and times GET /api/v1/admin/commissions and /orders over HTTP:
   the first page with its summary and a filtered page.
3. The SQL statements of each request (captured once from an in-process app, with their
   parameters) are replayed on a plain asyncpg connection and timed the same way.
4. Prints p50/p95 of both and checks the goals: endpoint p95 within 2x the SQL p95 plus
   5 ms, and under 150 ms.
"""

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import common  # noqa: E402

from iwm.core.security import hash_password  # noqa: E402

DB_NAME = "iwm_bench_money"
REDIS_URL = "redis://127.0.0.1:6379/12"
USERS = 100_000
PARTNERS = 20_000
COMMISSIONS = 5_000_000
ORDERS = 1_000_000
PAYOUTS = 100_000
PRODUCTS = 50
ADMIN_EMAIL = "bench-admin@iwm.test"
PASSWORD = "bench-admin-password"
SECRET = "bench-money-secret-0123456789abcdef"
GOAL_FACTOR = 2.0
GOAL_SLACK_MS = 5.0
GOAL_CAP_MS = 150.0
DAYS = 730
LOADED_TABLES = [
    "users",
    "user_roles",
    "network_partners",
    "network_tree",
    "products",
    "commissions",
    "shop_orders",
    "shop_order_items",
    "payouts",
]


def ident(kind: int, i: int) -> uuid.UUID:
    return uuid.UUID(int=(kind << 96) | i)


def user_id(i: int) -> uuid.UUID:
    return ident(1, i)


def partner_id(i: int) -> uuid.UUID:
    return ident(2, i)


def database_url() -> str:
    return common.database_url(DB_NAME)


def weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    roll = rng.randrange(sum(w for _, w in table))
    for value, weight in table:
        roll -= weight
        if roll < 0:
            return value
    return table[-1][0]


COMMISSION_STATUSES = [
    ("PAID", 50),
    ("APPROVED", 25),
    ("PENDING", 15),
    ("HELD", 5),
    ("REVERSED", 5),
]
ORDER_STATUSES = [
    ("DELIVERED", 60),
    ("SHIPPED", 8),
    ("PROCESSING", 6),
    ("PAID", 6),
    ("PENDING_PAYMENT", 10),
    ("CANCELLED", 10),
]
PAYOUT_STATUSES = [
    ("COMPLETED", 70),
    ("PENDING", 8),
    ("APPROVED", 5),
    ("PROCESSING", 2),
    ("REJECTED", 10),
    ("CANCELLED", 5),
]


class Loader:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.rng = random.Random(42)
        self.now = datetime.now(UTC)
        self.start = self.now - timedelta(days=DAYS)
        self.t0 = time.perf_counter()
        self.prices = [self.rng.randrange(500, 20_000) for _ in range(PRODUCTS)]

    def step(self, what: str) -> None:
        print(f"  {what:<28}{time.perf_counter() - self.t0:7.1f} s", flush=True)

    def at(self, i: int, n: int) -> datetime:
        """Rows spread evenly over the period, in insertion order (as they would arrive)."""
        return self.start + timedelta(seconds=i * DAYS * 86400 // n)

    async def run(self) -> None:
        indexes = await self.conn.fetch(
            """SELECT i.indexname, i.indexdef FROM pg_indexes i
               WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
            LOADED_TABLES,
        )
        for name, _ in indexes:
            await self.conn.execute(f'DROP INDEX "{name}"')
        await self.conn.execute("SET session_replication_role = replica")  # no FK triggers
        await self.users_and_partners()
        self.step("users and partners")
        await self.products()
        await self.orders()
        self.step("shop orders and items")
        await self.commissions()
        self.step("commissions")
        await self.payouts()
        self.step("payouts")
        await self.conn.execute("SET session_replication_role = origin")
        await self.conn.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            await self.conn.execute(definition)
        self.step("indexes rebuilt")
        await self.totals()
        self.step("running totals")
        await self.conn.execute("VACUUM ANALYZE")
        self.step("vacuum analyze")

    async def users_and_partners(self) -> None:
        password_hash = hash_password(PASSWORD)
        await self.conn.copy_records_to_table(
            "users",
            records=(
                (
                    user_id(i), ADMIN_EMAIL if i == 0 else f"member{i}@bench.example.com",
                    password_hash if i == 0 else None, "ACTIVE", f"First{i % 997}",
                    f"Last{i % 991}", "ru", "UTC", self.at(i, USERS), False,
                    "NOT_SUBMITTED", "NONE", self.at(i, USERS),
                )
                for i in range(USERS)
            ),
            columns=[
                "id", "email", "password_hash", "status", "first_name", "last_name",
                "language", "timezone", "created_at", "two_factor_enabled", "kyc_status",
                "kyc_level", "updated_at",
            ],
        )  # fmt: skip
        await self.conn.copy_records_to_table(
            "user_roles",
            records=((user_id(i), "SUPER_ADMIN" if i == 0 else "USER") for i in range(USERS)),
            columns=["user_id", "role"],
        )
        await self.conn.copy_records_to_table(
            "network_partners",
            records=(
                (
                    partner_id(n), user_id(n + 1), f"{n:08X}"[-8:], "ACTIVE", self.at(n, PARTNERS),
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, self.at(n, PARTNERS), self.at(n, PARTNERS),
                )
                for n in range(PARTNERS)
            ),
            columns=[
                "id", "user_id", "referral_code", "status", "activated_at", "depth",
                "direct_referrals", "network_size", "available_minor", "pending_minor",
                "total_earned_minor", "total_withdrawn_minor", "career_points_total",
                "career_points_period", "sales_volume_minor", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await self.conn.copy_records_to_table(
            "network_tree",
            records=(
                (partner_id(n), partner_id(n), 0, self.at(n, PARTNERS)) for n in range(PARTNERS)
            ),
            columns=["descendant_id", "ancestor_id", "depth", "descendant_joined_at"],
        )

    async def products(self) -> None:
        await self.conn.copy_records_to_table(
            "products",
            records=(
                (
                    ident(3, k), f"Product {k}", f"product-{k}", f"SKU-{k:04d}", "", price,
                    "ACTIVE", False, "{}", 1000, 500, self.start, self.start,
                )
                for k, price in enumerate(self.prices)
            ),
            columns=[
                "id", "name", "slug", "sku", "description", "price_minor", "status",
                "track_inventory", "details", "commission_bp", "career_points_bp",
                "created_at", "updated_at",
            ],
        )  # fmt: skip

    def order_rows(self, items: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for i in range(ORDERS):
            oid = ident(4, i)
            created = self.at(i, ORDERS)
            status = weighted(rng, ORDER_STATUSES)
            refunded = status == "CANCELLED" and rng.random() < 0.5
            payment = (
                "PENDING" if status == "PENDING_PAYMENT"
                else ("REFUNDED" if refunded else "CANCELLED") if status == "CANCELLED"
                else "PAID"
            )  # fmt: skip
            count = total = 0
            for k in range(rng.randint(1, 3)):
                product = rng.randrange(PRODUCTS)
                qty = rng.randint(1, 3)
                line = self.prices[product] * qty
                items.append(
                    (ident(5, i * 4 + k), oid, ident(3, product), qty, self.prices[product],
                     line, 1000, 500)
                )  # fmt: skip
                count += qty
                total += line
            paid = created + timedelta(minutes=5) if payment in ("PAID", "REFUNDED") else None
            yield (
                oid, f"ORD-{created.year}-{i + 1:08d}", user_id(rng.randrange(1, USERS)), status,
                payment, "STANDARD", "USD", count, total, paid,
                created + timedelta(hours=1) if status == "CANCELLED" else None,
                created, created,
            )  # fmt: skip

    async def orders(self) -> None:
        items: list[tuple[Any, ...]] = []
        await self.conn.copy_records_to_table(
            "shop_orders",
            records=self.order_rows(items),
            columns=[
                "id", "order_number", "user_id", "status", "payment_status",
                "shipping_method", "currency", "item_count", "total_minor", "paid_at",
                "cancelled_at", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await self.conn.copy_records_to_table(
            "shop_order_items",
            records=items,
            columns=[
                "id", "order_id", "product_id", "quantity", "unit_price_minor",
                "line_total_minor", "commission_bp", "career_points_bp",
            ],
        )  # fmt: skip

    def commission_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for i in range(COMMISSIONS):
            created = self.at(i, COMMISSIONS)
            status = weighted(rng, COMMISSION_STATUSES)
            level = rng.randint(1, 5)
            base = rng.randrange(100, 5_000)
            rate = [5000, 2000, 1000, 1000, 1000][level - 1]
            gross = base * rate // 10_000
            order = rng.random() < 0.8
            approved = status in ("APPROVED", "PAID")
            yield (
                ident(6, i), partner_id(rng.randrange(PARTNERS)),
                "ORDER" if order else "INVESTMENT",
                ident(4, rng.randrange(ORDERS)) if order else ident(7, i),
                partner_id(rng.randrange(PARTNERS)), level, base, rate, gross, gross,
                rng.randint(0, 50), "USD", status, created.strftime("%Y-%m"),
                created + timedelta(days=3) if approved else None,
                user_id(0) if approved else None, created, created,
            )  # fmt: skip

    async def commissions(self) -> None:
        await self.conn.copy_records_to_table(
            "commissions",
            records=self.commission_rows(),
            columns=[
                "id", "partner_id", "source_type", "source_id", "source_partner_id",
                "level_depth", "base_minor", "rate_bp", "gross_minor", "net_minor",
                "career_points", "currency", "status", "period_id", "processed_at",
                "approved_by", "created_at", "updated_at",
            ],
        )  # fmt: skip

    async def payouts(self) -> None:
        rng = self.rng
        methods = ["BANK_TRANSFER", "CARD", "CRYPTO"]
        rows = []
        for i in range(PAYOUTS):
            pid = ident(8, i)
            created = self.at(i, PAYOUTS)
            status = weighted(rng, PAYOUT_STATUSES)
            rows.append(
                (
                    pid, partner_id(rng.randrange(PARTNERS)), rng.randrange(1_000, 500_000),
                    "USD", methods[i % 3], f"****{i % 10_000:04d}", status,
                    status == "REJECTED" or None, f"payout-{pid}",
                    created + timedelta(days=2) if status == "COMPLETED" else None,
                    created, created,
                )
            )  # fmt: skip
        await self.conn.copy_records_to_table(
            "payouts",
            records=rows,
            columns=[
                "id", "partner_id", "amount_minor", "currency", "method_type",
                "masked_details", "status", "funds_returned", "idempotency_key",
                "completed_at", "created_at", "updated_at",
            ],
        )  # fmt: skip

    async def totals(self) -> None:
        """The running totals the writers keep, recomputed from the loaded rows."""
        await self.conn.execute("DELETE FROM commission_totals")
        await self.conn.execute(
            """INSERT INTO commission_totals (status, source_type, shard, row_count, amount_minor)
               SELECT status, source_type, 0, count(*), sum(net_minor)
               FROM commissions GROUP BY status, source_type"""
        )
        await self.conn.execute("DELETE FROM shop_order_totals")
        await self.conn.execute(
            """INSERT INTO shop_order_totals
                   (status, payment_status, shard, row_count, amount_minor)
               SELECT status, payment_status, 0, count(*), sum(total_minor)
               FROM shop_orders GROUP BY status, payment_status"""
        )


async def ensure_database(rebuild: bool) -> None:
    async def load(conn: asyncpg.Connection) -> None:
        await Loader(conn).run()

    await common.ensure_database(DB_NAME, "commission_totals", load, rebuild=rebuild)


# -- measurement ---------------------------------------------------------------------


def server_env() -> dict[str, str]:
    return common.server_env(DB_NAME, REDIS_URL, SECRET)


async def run(runs: int, port: int) -> int:
    week_ago = (datetime.now(UTC) - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET /commissions (first page)", "/api/v1/admin/commissions", {}),
        (
            "GET /commissions (APPROVED, last 7 days)",
            "/api/v1/admin/commissions",
            {"status": "APPROVED", "dateFrom": week_ago, "page": 2},
        ),
        (
            "GET /commissions (one partner)",
            "/api/v1/admin/commissions",
            {"partnerId": str(partner_id(4242))},
        ),
        ("GET /orders (first page)", "/api/v1/admin/orders", {}),
        (
            "GET /orders (SHIPPED, last 7 days)",
            "/api/v1/admin/orders",
            {"status": "SHIPPED", "dateFrom": week_ago},
        ),
    ]
    return await common.compare(
        DB_NAME, server_env(), cases, (ADMIN_EMAIL, PASSWORD), runs=runs, port=port
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    asyncio.run(ensure_database(args.rebuild))
    sys.exit(1 if asyncio.run(run(args.runs, args.port)) else 0)


if __name__ == "__main__":
    main()
