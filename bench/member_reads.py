"""A member's reads for a partner with 100,000 descendants, against the same SQL run
directly.

    flock /tmp/iwm-bench.lock .venv/bin/python bench/member_reads.py [--rebuild] [--runs 200]

1. Builds (or reuses) the data set of `bench/admin_lists.py` (`iwm_bench_admin`: 1,000,000
   users, 200,000 partners, one partner with exactly 100,000 descendants). For that big
   partner it then adds, once: a password to sign in with and 20,000 commissions from his
   downline in every status (COPY), then ANALYZE.
2. Serves the app with `iwm serve` in its own process (PostgreSQL + Redis sessions) and,
   signed in as the big partner, times over HTTP with one keep-alive client:
   GET /api/v1/me, GET /api/v1/me/commissions (first page with its summary) and
   GET /api/v1/me/network?depth=10.
3. The SQL each request issued (captured from the engine with its parameters) is replayed
   on a plain asyncpg connection and timed the same way.
4. Prints p50/p95 of both and checks the goal: endpoint p95 within 1.3x the SQL p95 plus
   2 ms.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (db 13 is
flushed).
"""

import argparse
import asyncio
import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import admin_lists
import common

from iwm.core.security import hash_password
from iwm.main import create_app

BIG = admin_lists.partner_id(1)
PASSWORD = "bench-member-password"
COMMISSIONS = 20_000
STATUSES = ["PENDING"] * 3 + ["APPROVED"] * 3 + ["PAID"] * 3 + ["HELD", "REVERSED"]
GOAL = common.Goal(factor=1.3, slack_ms=2.0, cap_ms=float("inf"))


def commission_id(i: int) -> uuid.UUID:
    return uuid.uuid5(admin_lists.NAMESPACE, f"member-commission-{i}")


async def prepare() -> str:
    """The big partner's email, with a known password and his commissions in place."""
    conn = await asyncpg.connect(f"{common.PG_DSN}/{admin_lists.DB_NAME}")
    try:
        user = await conn.fetchval("SELECT user_id FROM network_partners WHERE id = $1", BIG)
        await conn.execute(
            "UPDATE users SET password_hash = $2, status = 'ACTIVE', two_factor_enabled = false "
            "WHERE id = $1",
            user,
            hash_password(PASSWORD),
        )
        email: str = await conn.fetchval("SELECT email FROM users WHERE id = $1", user)
        if await conn.fetchval("SELECT count(*) FROM commissions WHERE partner_id = $1", BIG):
            return email
        sources = [
            r[0]
            for r in await conn.fetch(
                "SELECT descendant_id FROM network_tree WHERE ancestor_id = $1 AND depth "
                "BETWEEN 1 AND 10 LIMIT 5000",
                BIG,
            )
        ]
        rng = random.Random(16)
        start = datetime(2025, 1, 1, tzinfo=UTC)

        def rows() -> Iterator[tuple[Any, ...]]:
            for i in range(COMMISSIONS):
                created = start + timedelta(minutes=30 * i)
                status = rng.choice(STATUSES)
                level = rng.randint(1, 5)
                base = rng.randrange(1_000, 50_000)
                rate = [5000, 2000, 1000, 1000, 1000][level - 1]
                gross = base * rate // 10_000
                approved = status in ("APPROVED", "PAID")
                yield (
                    commission_id(i), BIG, "ORDER", uuid.uuid4(), rng.choice(sources), level,
                    base, rate, gross, gross, rng.randint(0, 50), "USD", status,
                    created.strftime("%Y-%m"), created + timedelta(days=3) if approved else None,
                    created, created,
                )  # fmt: skip

        await conn.copy_records_to_table(
            "commissions",
            records=rows(),
            columns=[
                "id", "partner_id", "source_type", "source_id", "source_partner_id",
                "level_depth", "base_minor", "rate_bp", "gross_minor", "net_minor",
                "career_points", "currency", "status", "period_id", "processed_at",
                "created_at", "updated_at",
            ],
        )  # fmt: skip
        await conn.execute("ANALYZE commissions")
        return email
    finally:
        await conn.close()


async def run(runs: int, port: int) -> int:
    email = await prepare()
    cases: list[common.Case] = [
        ("GET /me", "/api/v1/me", {}),
        ("GET /me/commissions (first page)", "/api/v1/me/commissions", {}),
        ("GET /me/network?depth=10", "/api/v1/me/network", {"depth": 10}),
    ]
    # GET /api/v1/me belongs to the member accounts: timed once the app serves it.
    app = create_app(common.settings_of(admin_lists.server_env()))
    served = set(app.openapi()["paths"])
    await app.state.resources.close()
    missing = [name for name, path, _ in cases if path not in served]
    if missing:
        print(f"not served yet, left out: {', '.join(missing)}")
    cases = [case for case in cases if case[1] in served]
    print(
        f"signed in as the partner with 100,000 descendants ({email}), {COMMISSIONS:,} commissions"
    )
    return await common.compare(
        admin_lists.DB_NAME,
        admin_lists.server_env(),
        cases,
        (email, PASSWORD),
        runs=runs,
        port=port,
        goal=GOAL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--port", type=int, default=8768)
    args = parser.parse_args()
    asyncio.run(admin_lists.ensure_database(args.rebuild))
    sys.exit(1 if asyncio.run(run(args.runs, args.port)) else 0)


if __name__ == "__main__":
    main()
