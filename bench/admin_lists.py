"""Admin list endpoints on a large data set, against the same SQL run directly.

    .venv/bin/python bench/admin_lists.py [--rebuild] [--runs 200]

1. Builds (or reuses) the `iwm_bench_admin` PostgreSQL database with the migrations and
   fills it with COPY: 1,000,000 users, 200,000 network partners in sponsor trees up to
   20 levels deep (one partner with exactly 100,000 descendants), 100,000 KYC
   verifications with two documents each. Secondary indexes are dropped during the load
   and rebuilt after it; then VACUUM ANALYZE.
2. Serves the app with `iwm serve` in its own process (PostgreSQL + Redis sessions and
   limits) and times each endpoint over HTTP with one keep-alive client: GET /users
   (first page, a filtered page, a search), GET /partners, and
   GET /partners/{id}/network?depth=10 for the 100,000-descendant partner.
3. For each endpoint, the SQL statements it issued (captured from the engine, with their
   parameters) are replayed on a plain asyncpg connection and timed the same way.
4. Prints p50/p95 of both and checks the goals: endpoint p95 within 2x the SQL p95 plus
   5 ms, and under 150 ms.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (db 13 is
flushed).
"""

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import common

from iwm.core.security import hash_password

DB_NAME = "iwm_bench_admin"
REDIS_URL = "redis://127.0.0.1:6379/13"
USERS = 1_000_000
PARTNERS = 200_000
BIG_SUBTREE = 100_000
MAX_DEPTH = 20
KYC = 100_000
ADMIN_EMAIL = "bench-admin@iwm.test"
PASSWORD = "bench-admin-password"
SECRET = "bench-admin-secret-0123456789abcdef"
NAMESPACE = uuid.UUID("0f5e2b8c-3a71-4d9e-8c2f-6b1a9d4e7f30")
GOAL_FACTOR = 2.0
GOAL_SLACK_MS = 5.0
GOAL_CAP_MS = 150.0
LOADED_TABLES = [
    "users",
    "user_roles",
    "network_partners",
    "network_tree",
    "kyc_verifications",
    "kyc_documents",
]
FIRST = [
    "Ivan",
    "Olga",
    "Sergey",
    "Anna",
    "Dmitry",
    "Elena",
    "Pavel",
    "Maria",
    "Alexey",
    "Natalia",
    "Yuri",
    "Irina",
    "Noa",
    "David",
    "Sofia",
    "Lucas",
    "Emma",
    "Mateo",
    "Oleg",
    "Vera",
    "Nikita",
    "Daria",
    "Roman",
    "Kira",
]
LAST = [
    "Petrov",
    "Ivanova",
    "Smirnov",
    "Kuznetsova",
    "Popov",
    "Volkova",
    "Levi",
    "Cohen",
    "Garcia",
    "Martin",
    "Rossi",
    "Novak",
    "Sokolov",
    "Morozova",
    "Lebedev",
    "Kozlova",
    "Novikov",
    "Fedorova",
    "Orlov",
    "Belova",
]
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
# What an admin types: the start of an address from a support ticket, a phone fragment.
SEARCH_EMAIL = "ivan.orlov424"
SEARCH_PHONE = "9990424"


def user_id(i: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"user-{i}")


def partner_id(i: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"partner-{i}")


def database_url() -> str:
    return common.database_url(DB_NAME)


# -- data ----------------------------------------------------------------------------


def _sponsor_tree(rng: random.Random) -> list[int | None]:
    """Parents of PARTNERS nodes: node 0 is a root, node 1 (the big partner) its child,
    nodes 2..BIG_SUBTREE+1 a random tree under node 1 (at most MAX_DEPTH levels from the
    top), the rest random trees under 200 further roots."""
    parents: list[int | None] = [None, 0]
    depth = [0, 1]
    eligible = [1]
    for node in range(2, BIG_SUBTREE + 2):
        parent = eligible[rng.randrange(len(eligible))]
        parents.append(parent)
        depth.append(depth[parent] + 1)
        if depth[node] < MAX_DEPTH:
            eligible.append(node)
    roots = list(range(BIG_SUBTREE + 2, BIG_SUBTREE + 202))
    for _ in roots:
        parents.append(None)
        depth.append(0)
    eligible = list(roots)
    for node in range(BIG_SUBTREE + 202, PARTNERS):
        parent = eligible[rng.randrange(len(eligible))]
        parents.append(parent)
        depth.append(depth[parent] + 1)
        if depth[node] < MAX_DEPTH:
            eligible.append(node)
    return parents


def _depths(parents: list[int | None]) -> list[int]:
    depth = [0] * len(parents)
    for node, parent in enumerate(parents):  # parents always come before their children
        depth[node] = 0 if parent is None else depth[parent] + 1
    return depth


def _closure(parents: list[int | None], joined: list[datetime]) -> Iterator[tuple[Any, ...]]:
    for node in range(len(parents)):
        pid = partner_id(node)
        distance, cur = 0, node
        while cur is not None:
            yield (pid, partner_id(cur), distance, joined[node])
            cur = parents[cur]
            distance += 1


DOMAINS = ["gmail.com", "mail.ru", "yandex.ru", "outlook.com", "example.com"]
KYC_STATUSES = ["SUBMITTED"] * 10 + ["UNDER_REVIEW"] * 5 + ["NEEDS_INFO"] * 5
KYC_STATUSES += ["APPROVED"] * 60 + ["REJECTED"] * 20


def first_name(i: int) -> str:
    return FIRST[i % len(FIRST)]


def last_name(i: int) -> str:
    return LAST[(i // len(FIRST)) % len(LAST)]


def email(i: int) -> str:
    if i == 0:
        return ADMIN_EMAIL
    return f"{first_name(i)}.{last_name(i)}{i}@{DOMAINS[i % len(DOMAINS)]}".lower()


class Loader:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.rng = random.Random(42)
        self.now = datetime.now(UTC)
        self.start = self.now - timedelta(days=3 * 365)
        self.t0 = time.perf_counter()
        self.kyc_rows: list[tuple[Any, ...]] = []
        self.kyc_state: dict[int, tuple[str, str]] = {}

    def step(self, what: str, extra: str = "") -> None:
        print(f"  {what:<20}{time.perf_counter() - self.t0:6.1f} s  {extra}")

    async def run(self) -> None:
        # Secondary indexes are rebuilt after the load (much faster than maintaining them).
        indexes = await self.conn.fetch(
            """SELECT i.indexname, i.indexdef FROM pg_indexes i
               WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
            LOADED_TABLES,
        )
        for name, _ in indexes:
            await self.conn.execute(f'DROP INDEX "{name}"')
        await self.conn.execute("SET session_replication_role = replica")  # no FK triggers
        self.plan_kyc()
        await self.users()
        self.step("users loaded")
        await self.partners()
        await self.kyc()
        self.step("KYC loaded")
        await self.conn.execute("SET session_replication_role = origin")
        await self.conn.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            await self.conn.execute(definition)
        self.step("indexes rebuilt")
        await self.conn.execute("VACUUM ANALYZE")
        self.step("vacuum analyze")

    def plan_kyc(self) -> None:
        for n, i in enumerate(sorted(self.rng.sample(range(1, USERS), KYC))):
            status = KYC_STATUSES[n % len(KYC_STATUSES)]
            level = ["BASIC", "STANDARD", "ENHANCED"][n % 3]
            submitted = self.now - timedelta(hours=self.rng.randint(1, 24 * 365))
            reviewed = status in ("APPROVED", "REJECTED")
            self.kyc_state[i] = (status, level)
            self.kyc_rows.append(
                (
                    uuid.uuid5(NAMESPACE, f"kyc-{i}"), user_id(i), status, level,
                    ["HIGH", "NORMAL", "NORMAL", "LOW"][n % 4], first_name(i), last_name(i),
                    date(1990, 1, 1), "RU", "PASSPORT", f"45{i:08d}", date(2015, 1, 1),
                    date(2035, 1, 1), "RU", "", "Moscow", "Tverskaya", "1", "125009",
                    submitted,
                    submitted + timedelta(hours=self.rng.randint(1, 72)) if reviewed else None,
                    submitted + timedelta(days=365) if status == "APPROVED" else None,
                    True, submitted, submitted,
                )
            )  # fmt: skip

    def user_rows(self) -> Iterator[tuple[Any, ...]]:
        password_hash = hash_password(PASSWORD)
        step = 3 * 365 * 86400 // USERS
        for i in range(USERS):
            created = self.start + timedelta(seconds=i * step)
            roll = i % 100
            status = (
                "ACTIVE" if roll < 85
                else "PENDING_VERIFICATION" if roll < 92
                else "SUSPENDED" if roll < 97
                else "BANNED"
            )  # fmt: skip
            suspended = status == "SUSPENDED"
            # Half of the timed suspensions are already over.
            until = self.now + timedelta(days=(i % 20) - 10) if suspended and i % 2 else None
            kyc_status, kyc_level = self.kyc_state.get(i, ("NOT_SUBMITTED", "NONE"))
            login = None if i % 5 == 0 else created + timedelta(days=self.rng.randint(0, 30))
            yield (
                user_id(i), email(i), password_hash if i == 0 else None, status,
                first_name(i), last_name(i), "ru", "UTC", f"+7999{i:07d}", login, created,
                created if suspended else None, until, "bench" if suspended else None,
                i % 7 == 0, kyc_status, kyc_level, created,
            )  # fmt: skip

    async def users(self) -> None:
        await self.conn.copy_records_to_table(
            "users",
            records=self.user_rows(),
            columns=[
                "id", "email", "password_hash", "status", "first_name", "last_name",
                "language", "timezone", "phone", "last_login_at", "created_at",
                "suspended_at", "suspended_until", "suspension_reason", "two_factor_enabled",
                "kyc_status", "kyc_level", "updated_at",
            ],
        )  # fmt: skip
        await self.conn.copy_records_to_table(
            "user_roles",
            records=((user_id(i), "SUPER_ADMIN" if i == 0 else "USER") for i in range(USERS)),
            columns=["user_id", "role"],
        )

    async def partners(self) -> None:
        rng = self.rng
        parents = _sponsor_tree(rng)
        depth = _depths(parents)
        member = rng.sample(range(1, USERS), PARTNERS)
        joined = [self.start + timedelta(seconds=30 * n) for n in range(PARTNERS)]
        direct = [0] * PARTNERS
        size = [0] * PARTNERS
        for parent in parents:
            if parent is not None:
                direct[parent] += 1
            cur = parent
            while cur is not None:
                size[cur] += 1
                cur = parents[cur]
        codes: set[str] = set()
        while len(codes) < PARTNERS:
            codes.add("".join(rng.choice(CODE_ALPHABET) for _ in range(8)))
        code_list = sorted(codes)
        rng.shuffle(code_list)
        await self.conn.copy_records_to_table(
            "network_partners",
            records=(
                (
                    partner_id(n), user_id(member[n]), code_list[n],
                    partner_id(parents[n]) if parents[n] is not None else None,
                    "ACTIVE" if n % 50 else "SUSPENDED", joined[n], depth[n], direct[n],
                    size[n], 0, 0, rng.randint(0, 1_000_000), 0, 0, 0, joined[n], joined[n],
                )
                for n in range(PARTNERS)
            ),
            columns=[
                "id", "user_id", "referral_code", "sponsor_id", "status", "activated_at",
                "depth", "direct_referrals", "network_size", "available_minor",
                "pending_minor", "total_earned_minor", "total_withdrawn_minor",
                "career_points_total", "career_points_period", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await self.conn.copy_records_to_table(
            "network_tree",
            records=_closure(parents, joined),
            columns=["descendant_id", "ancestor_id", "depth", "descendant_joined_at"],
        )
        await self.conn.execute(
            """INSERT INTO network_levels (ancestor_id, depth, members, volume_minor)
               SELECT t.ancestor_id, t.depth, count(*), coalesce(sum(p.sales_volume_minor), 0)
               FROM network_tree t JOIN network_partners p ON p.id = t.descendant_id
               WHERE t.depth >= 1 GROUP BY t.ancestor_id, t.depth"""
        )
        self.step(
            "partners loaded",
            f"(big partner: {size[1]:,} descendants, deepest level {max(depth)})",
        )

    async def kyc(self) -> None:
        await self.conn.copy_records_to_table(
            "kyc_verifications",
            records=self.kyc_rows,
            columns=[
                "id", "user_id", "status", "level", "priority", "first_name", "last_name",
                "date_of_birth", "nationality", "document_type", "document_number",
                "document_issue_date", "document_expiry_date", "country", "region", "city",
                "street", "building", "postal_code", "submitted_at", "reviewed_at",
                "expires_at", "can_resubmit", "created_at", "updated_at",
            ],
        )  # fmt: skip
        await self.conn.copy_records_to_table(
            "kyc_documents",
            records=(
                (
                    uuid.uuid5(NAMESPACE, f"doc-{row[0]}-{k}"), row[0], kind, k,
                    f"{kind.lower()}.jpg", "image/jpeg", 100_000, f"kyc/{row[0]}/{k}.jpg",
                    None, "PENDING", row[19],
                )
                for row in self.kyc_rows
                for k, kind in enumerate(("PASSPORT", "SELFIE"))
            ),
            columns=[
                "id", "verification_id", "type", "position", "file_name", "content_type",
                "size_bytes", "storage_key", "thumbnail_key", "status", "uploaded_at",
            ],
        )  # fmt: skip


async def ensure_database(rebuild: bool) -> None:
    async def load(conn: asyncpg.Connection) -> None:
        await Loader(conn).run()

    await common.ensure_database(DB_NAME, "network_tree", load, rebuild=rebuild)


# -- measurement ---------------------------------------------------------------------


def server_env() -> dict[str, str]:
    return common.server_env(DB_NAME, REDIS_URL, SECRET)


async def run(runs: int, port: int) -> int:
    big = partner_id(1)
    cases: list[common.Case] = [
        ("GET /users (first page)", "/api/v1/admin/users", {}),
        (
            "GET /users (ACTIVE, KYC APPROVED)",
            "/api/v1/admin/users",
            {"status": "ACTIVE", "kycStatus": "APPROVED", "page": 3},
        ),
        (f"GET /users?search={SEARCH_EMAIL}", "/api/v1/admin/users", {"search": SEARCH_EMAIL}),
        (f"GET /users?search={SEARCH_PHONE}", "/api/v1/admin/users", {"search": SEARCH_PHONE}),
        ("GET /partners (first page)", "/api/v1/admin/partners", {}),
        (
            "GET /partners/{big}/network?depth=10",
            f"/api/v1/admin/partners/{big}/network",
            {"depth": 10},
        ),
    ]
    return await common.compare(
        DB_NAME, server_env(), cases, (ADMIN_EMAIL, PASSWORD), runs=runs, port=port
    )


def describe_big_partner(port: int) -> None:
    """What the network case reads: the partner's size and depth, as the API reports them."""
    big = partner_id(1)
    with common.serving(server_env(), port) as base, httpx.Client(base_url=base) as client:
        headers = common.login(client, ADMIN_EMAIL, PASSWORD)
        detail = client.get(f"/api/v1/admin/partners/{big}", headers=headers).json()["data"]
        network = client.get(
            f"/api/v1/admin/partners/{big}/network", params={"depth": 10}, headers=headers
        ).json()["data"]
    print(
        f"big partner: networkSize {detail['stats']['networkSize']:,}, "
        f"treeDepth {detail['stats']['treeDepth']}, "
        f"within 10 levels {network['stats']['totalSize']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    asyncio.run(ensure_database(args.rebuild))
    describe_big_partner(args.port)
    sys.exit(1 if asyncio.run(run(args.runs, args.port)) else 0)


if __name__ == "__main__":
    main()
