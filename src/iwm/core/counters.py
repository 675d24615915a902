"""Sharded running totals kept in the writer's own transaction, so that summaries read a
few dozen rows instead of scanning millions.

Each change adds its deltas to one of `shards` rows of its key, chosen at random, so that
concurrent writers rarely wait on the same row; readers sum over the shards.
"""

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from iwm.core.upsert import upsert_rows

SHARDS = 16


def pick_shard(shards: int = SHARDS) -> int:
    return secrets.randbelow(shards)


async def add(
    session: AsyncSession,
    model: type[DeclarativeBase],
    key: Mapping[str, Any],
    deltas: Mapping[str, int],
    *,
    shard: int | None = None,
) -> None:
    """Adds `deltas` to the counter row of `key` in `shard` (a random one if not given);
    `model` has the key columns, `shard` and the counted columns, with its primary key over
    key + shard. All-zero deltas write nothing."""
    if not any(deltas.values()):
        return
    values = {**key, "shard": pick_shard() if shard is None else shard, **deltas}
    await upsert_rows(session, model, [values], key=[*key, "shard"], add=list(deltas))


async def add_many(
    session: AsyncSession,
    model: type[DeclarativeBase],
    key_names: Sequence[str],
    rows: Mapping[tuple[Any, ...], Mapping[str, int]],
    *,
    shard: int | None = None,
) -> None:
    """`add` for several keys in one statement, all in one shard (a random one if not
    given). Every row has the same delta columns; all-zero rows write nothing. The rows go
    in sorted key order, so concurrent writers lock them in the same order."""
    chosen = pick_shard() if shard is None else shard
    values = [
        {**dict(zip(key_names, key, strict=True)), "shard": chosen, **rows[key]}
        for key in sorted(rows, key=lambda k: tuple(str(part) for part in k))
        if any(rows[key].values())
    ]
    if not values:
        return
    deltas = [name for name in values[0] if name not in key_names and name != "shard"]
    await upsert_rows(session, model, values, key=[*key_names, "shard"], add=deltas)


async def bump(
    session: AsyncSession,
    model: type[DeclarativeBase],
    key: dict[str, Any],
    count: int,
    amount: int,
) -> None:
    """Adds (`count`, `amount`) to the `row_count` and `amount_minor` totals of `key`."""
    await add(session, model, key, {"row_count": count, "amount_minor": amount})


async def recount(
    session: AsyncSession, model: type[DeclarativeBase], keys: list[Any], amount: Any
) -> None:
    """Recomputes the `row_count` and `amount_minor` totals of `model` from their source
    rows: one row per key (in shard 0), grouped by the source's `keys` columns, which have
    the totals' key columns' names."""
    await session.execute(delete(model))
    await session.execute(
        insert(model).from_select(
            [*(key.key for key in keys), "shard", "row_count", "amount_minor"],
            select(*keys, literal(0), func.count(), func.coalesce(func.sum(amount), 0)).group_by(
                *keys
            ),
        )
    )
