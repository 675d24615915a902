"""Sharded running totals (count and sum) kept in the writer's own transaction, so that
unfiltered list summaries read a few dozen rows instead of scanning millions.

Each change adds its delta to one of `SHARDS` rows of its key chosen at random, so that
concurrent writers rarely wait on the same row; readers sum over the shards.
"""

import secrets
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

SHARDS = 16


async def bump(
    session: AsyncSession,
    model: type[DeclarativeBase],
    key: dict[str, Any],
    count: int,
    amount: int,
) -> None:
    """Add (`count`, `amount`) to the totals row of `key`; `model` has the key columns plus
    `shard`, `row_count` and `amount_minor`, with its primary key over key + shard."""
    if count == 0 and amount == 0:
        return
    values = {**key, "shard": secrets.randbelow(SHARDS), "row_count": count, "amount_minor": amount}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = model.__table__
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[*key, "shard"],
        set_={
            "row_count": table.c.row_count + stmt.excluded.row_count,
            "amount_minor": table.c.amount_minor + stmt.excluded.amount_minor,
        },
    )
    await session.execute(stmt)
