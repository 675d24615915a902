"""Pieces the admin benchmarks share: building their database once, and reading figures."""

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from iwm.core.migrations import upgrade_head

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
