"""Admin analytics (dashboard, sales, commissions, period=YEAR) on a large data set, beside
the raw SQL time of each request's main aggregate.

    flock /tmp/iwm-bench.lock .venv/bin/python bench/admin_analytics.py [--rebuild] [--runs 40]

1. Builds (or reuses) the `iwm_bench_analytics` PostgreSQL database with the loader of
   bench/admin_money.py (migrations, then COPY), at 1,000,000 users: 20,000 partners,
   5,000,000 commissions, 1,000,000 shop orders with about 2,000,000 items, 100,000
   payouts, spread over two years.
2. Runs the analytics rollup rebuild (`rollups.rebuild`) in one transaction and times it.
3. Starts `iwm serve` in its own process on that database (Redis db 12, scheduler off,
   admin rate limit lifted) and times the three endpoints over HTTP, one client.
4. Replays each request's SQL (captured once from an in-process app) on a plain asyncpg
   connection: all of its statements, and the slowest one alone (its main aggregate).
5. Prints p50/p95 in ms and checks the goal: endpoint p95 under 300 ms.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import admin_money as data_set  # noqa: E402
import common  # noqa: E402

from iwm.core.config import Settings  # noqa: E402
from iwm.core.db import make_engine, make_sessionmaker  # noqa: E402
from iwm.modules.analytics import rollups  # noqa: E402

data_set.DB_NAME = "iwm_bench_analytics"
data_set.USERS = 1_000_000
GOAL_MS = 300.0
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET /analytics/dashboard?period=YEAR", "/api/v1/admin/analytics/dashboard", {}),
    ("GET /analytics/sales?period=YEAR", "/api/v1/admin/analytics/sales", {}),
    ("GET /analytics/commissions?period=YEAR", "/api/v1/admin/analytics/commissions", {}),
]


async def rebuild_rollups() -> float:
    settings = Settings(database_url=data_set.database_url(), secret_key=data_set.SECRET)
    engine = make_engine(settings)
    try:
        t = time.perf_counter()
        async with make_sessionmaker(engine).begin() as session:
            await rollups.rebuild(session)
        elapsed = time.perf_counter() - t
    finally:
        await engine.dispose()
    raw = await asyncpg.connect(f"{data_set.PG_DSN}/{data_set.DB_NAME}")
    try:
        await raw.execute("VACUUM ANALYZE")
    finally:
        await raw.close()
    return elapsed


async def time_statement(
    raw: asyncpg.Connection, statement: str, parameters: Any, runs: int
) -> list[float]:
    samples = []
    for i in range(runs + 3):
        t = time.perf_counter()
        await raw.fetch(statement, *parameters)
        if i >= 3:
            samples.append((time.perf_counter() - t) * 1000)
    return samples


async def run(runs: int, port: int) -> int:
    cases = [(name, path, {**params, "period": "YEAR"}) for name, path, params in CASES]
    env = data_set.server_env()
    statements = await common.captured_statements(
        env, cases, data_set.ADMIN_EMAIL, data_set.PASSWORD
    )
    raw = await asyncpg.connect(f"{data_set.PG_DSN}/{data_set.DB_NAME}")
    failed = 0
    pct = common.percentile
    try:
        with common.serving(env, port) as base:
            with httpx.Client(base_url=base, timeout=60) as http:
                headers = common.login(http, data_set.ADMIN_EMAIL, data_set.PASSWORD)
            client = common.KeepAliveClient(base)
            print(
                f"\n{'endpoint':<42}{'API p50':>9}{'p95':>8}{'SQL p50':>10}{'p95':>8}"
                f"{'main p50':>10}{'p95':>8}{'stmts':>7}  goal"
            )
            for (name, path, params), stmts in zip(cases, statements, strict=True):
                api = common.time_api(client, headers, path, params, runs)
                sql = await common.time_sql(raw, stmts, runs)
                per_statement = [await time_statement(raw, s, p, runs) for s, p in stmts]
                main = max(per_statement, key=statistics.median)
                api95 = pct(api, 95)
                ok = api95 <= GOAL_MS
                failed += not ok
                print(
                    f"{name:<42}{statistics.median(api):8.1f} {api95:7.1f} "
                    f"{statistics.median(sql):9.1f} {pct(sql, 95):7.1f}"
                    f"{statistics.median(main):9.1f} {pct(main, 95):7.1f}{len(stmts):7d}  "
                    f"{'ok' if ok else 'MISSED'}"
                )
            client.close()
    finally:
        await raw.close()
    print(
        f"\ngoal: API p95 <= {GOAL_MS:g} ms (ms; {runs} runs each; `iwm serve` in its own "
        "process over HTTP, one keep-alive client; SQL = all statements of the request replayed on "
        "asyncpg, main = its slowest statement alone)"
    )
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    t = time.perf_counter()
    asyncio.run(data_set.ensure_database(args.rebuild))
    print(f"data set ready in {time.perf_counter() - t:.1f} s")
    print(f"analytics rollup rebuild: {asyncio.run(rebuild_rollups()):.1f} s", flush=True)
    sys.exit(1 if asyncio.run(run(args.runs, args.port)) else 0)


if __name__ == "__main__":
    main()
