"""The benchmark's data set in its own PostgreSQL database, built by the migrations.

200 partners (one shop each, 10 kiosks per shop, 2,000 kiosks) and 1,000,000 orders
spread over the last 30 days, loaded with COPY. Device keys and the partners' password
are derived from fixed seeds, so the load generator knows them without storing them.

A database loaded less than `REFRESH_AFTER` ago is reused as it is; an older one gets
fresh orders (the "new orders" screen needs orders of the last 3 hours).
"""

import asyncio
import hashlib
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from iwm.core.migrations import upgrade_head
from iwm.core.principal import Role
from iwm.core.security import hash_password, token_hash

PG_DSN = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "iwm_bench"
PARTNERS = 200
KIOSKS_PER_PARTNER = 10
ORDERS = 1_000_000
DAYS = 30
PASSWORD = "bench-partner-password"
REFRESH_AFTER = timedelta(hours=1)
NAMESPACE = uuid.UUID("5b0a3c1e-8f7d-4c62-9b1a-2f64d8e0c7a1")
_ORDER_CHUNK = 100_000


@dataclass(frozen=True, slots=True)
class Fleet:
    kiosks: list[tuple[str, str]]  # (kiosk id, device key)
    partner_emails: list[str]
    password: str = PASSWORD


def database_url(db: str = DB_NAME) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"


def partner_email(i: int) -> str:
    return f"partner{i:03d}@bench.iwm.test"


def kiosk_id(i: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"kiosk-{i}")


def device_key(i: int) -> str:
    return hashlib.sha256(f"iwm-bench-device-key-{i}".encode()).hexdigest()


def fleet() -> Fleet:
    n = PARTNERS * KIOSKS_PER_PARTNER
    return Fleet(
        kiosks=[(str(kiosk_id(i)), device_key(i)) for i in range(n)],
        partner_emails=[partner_email(i) for i in range(PARTNERS)],
    )


async def _connect(db: str) -> asyncpg.Connection:
    return await asyncpg.connect(f"{PG_DSN}/{db}")


async def _ensure_database() -> None:
    conn = await _connect("postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB_NAME):
            await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await conn.close()


async def _loaded_at(conn: asyncpg.Connection) -> datetime | None:
    """When the data set was loaded (kept as the database's comment), if it is complete."""
    comment = await conn.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
        DB_NAME,
    )
    if not comment or not comment.startswith("iwm-bench loaded_at="):
        return None
    kiosks = await conn.fetchval("SELECT count(*) FROM kiosks")
    if kiosks != PARTNERS * KIOSKS_PER_PARTNER:
        return None
    return datetime.fromisoformat(comment.split("=", 1)[1])


async def _load_fleet() -> None:
    """Users, roles, shops and kiosks through SQLAlchemy Core (model defaults apply)."""
    from iwm.modules.kiosks.models import Kiosk
    from iwm.modules.shops.models import Shop
    from iwm.modules.users.models import User, UserRole

    now = datetime.now(UTC)
    pw_hash = hash_password(PASSWORD)  # one real Argon2 hash, reused by every partner
    users, roles, shops, kiosks = [], [], [], []
    for p in range(PARTNERS):
        user_id = uuid.uuid5(NAMESPACE, f"user-{p}")
        shop_id = uuid.uuid5(NAMESPACE, f"shop-{p}")
        users.append(
            {
                "id": user_id,
                "email": partner_email(p),
                "password_hash": pw_hash,
                "first_name": "Partner",
                "last_name": f"{p:03d}",
                "created_at": now - timedelta(days=90),
            }
        )
        roles.append({"user_id": user_id, "role": Role.PARTNER.value})
        shops.append(
            {
                "id": shop_id,
                "partner_user_id": user_id,
                "name": f"Shop {p:03d}",
                "location": f"Mall {p % 37}",
                "timezone": ("UTC", "Europe/Paris", "Asia/Jerusalem", "America/New_York")[p % 4],
                "created_at": now - timedelta(days=90),
            }
        )
        for k in range(KIOSKS_PER_PARTNER):
            i = p * KIOSKS_PER_PARTNER + k
            kiosks.append(
                {
                    "id": kiosk_id(i),
                    "shop_id": shop_id,
                    "name": f"Kiosk #{k + 1}",
                    "location": f"Mall {p % 37}, level {k % 3}",
                    "status": "active",
                    "default_language": "en",
                    "device_key_hash": token_hash(device_key(i)),
                    "last_active_at": now - timedelta(seconds=random.randint(0, 600)),
                    "created_at": now - timedelta(days=60),
                }
            )
    engine = create_async_engine(database_url())
    try:
        async with engine.begin() as conn:
            for table, rows in (
                (User.__table__, users),
                (UserRole.__table__, roles),
                (Shop.__table__, shops),
                (Kiosk.__table__, kiosks),
            ):
                await conn.execute(insert(table), rows)
    finally:
        await engine.dispose()


_FIRST = ("Anna", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gil", "Hana", "Ivan", "Julia")
_LAST = ("Levi", "Martin", "Cohen", "Smith", "Garcia", "Rossi", "Novak", "Kim", "Haddad")
ORDER_COLUMNS = (
    "id",
    "kiosk_id",
    "customer_name",
    "customer_email",
    "customer_phone",
    "image_key",
    "image_content_type",
    "printed_at",
    "created_at",
    "number",
)


def _order_rows(
    count: int,
    oldest: float,
    newest: float,
    now: datetime,
    rng: random.Random,
    numbers: dict[int, int],
) -> list[tuple[object, ...]]:
    """Orders aged between `oldest` and `newest` seconds, oldest first (as a live table
    holds them): the last 3 hours hold their share (~0.4%, about 20 per partner), half
    of them printed; older ones are mostly printed."""
    n_kiosks = PARTNERS * KIOSKS_PER_PARTNER
    rows = []
    for age in sorted((rng.uniform(newest, oldest) for _ in range(count)), reverse=True):
        created = now - timedelta(seconds=age)
        share_printed = 0.5 if age < 3600 * 3 else 0.95
        printed = None
        if rng.random() < share_printed:
            printed = created + timedelta(minutes=rng.randint(1, 20 if age < 3600 * 3 else 60))
        if printed is not None and printed > now:
            printed = None
        oid = uuid.uuid4()
        kiosk = rng.randrange(n_kiosks)
        # Order numbers count up per shop (one shop per partner), oldest first.
        shop = kiosk // KIOSKS_PER_PARTNER
        numbers[shop] = numbers.get(shop, 0) + 1
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        rows.append(
            (
                oid,
                kiosk_id(kiosk),
                f"{first} {last}",
                f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@example.com",
                f"+9725{rng.randint(10_000_000, 99_999_999)}",
                f"orders/{created:%Y/%m/%d}/{oid}.jpg",
                "image/jpeg",
                printed,
                created,
                numbers[shop],
            )
        )
    return rows


async def _load_orders(conn: asyncpg.Connection, now: datetime) -> None:
    """TRUNCATE, then COPY in chunks (the migrations' indexes stay in place)."""
    rng = random.Random(20251015)
    await conn.execute("TRUNCATE orders, activity_logs, order_numbers")
    numbers: dict[int, int] = {}
    done = 0
    span = DAYS * 86400
    while done < ORDERS:
        n = min(_ORDER_CHUNK, ORDERS - done)
        oldest, newest = span * (1 - done / ORDERS), span * (1 - (done + n) / ORDERS)
        rows = await asyncio.to_thread(_order_rows, n, oldest, newest, now, rng, numbers)
        await conn.copy_records_to_table("orders", records=rows, columns=ORDER_COLUMNS)
        done += n
        print(f"  orders: {done:,}/{ORDERS:,}", flush=True)
    await conn.execute(
        "INSERT INTO order_numbers (shop_id, last_number) "
        "SELECT k.shop_id, max(o.number) FROM orders o JOIN kiosks k ON k.id = o.kiosk_id "
        "GROUP BY k.shop_id"
    )


async def prepare(force: bool = False) -> Fleet:
    """Builds (or reuses) the data set and returns what the load generator needs."""
    started = time.perf_counter()
    await _ensure_database()
    await asyncio.to_thread(upgrade_head, database_url())
    conn = await _connect(DB_NAME)
    try:
        now = datetime.now(UTC)
        loaded_at = None if force else await _loaded_at(conn)
        if loaded_at is not None and now - loaded_at < REFRESH_AFTER:
            print(f"data set: reused (loaded {loaded_at:%H:%M:%S} UTC)")
            return fleet()
        await conn.execute(f'COMMENT ON DATABASE "{DB_NAME}" IS NULL')
        if loaded_at is None:
            print("data set: loading users, shops and kiosks")
            await conn.execute(
                "TRUNCATE users, user_roles, shops, kiosks, orders, activity_logs, "
                "free_round_codes, kiosk_errors, kiosk_cash_ledger CASCADE"
            )
            await _load_fleet()
        print(f"data set: loading {ORDERS:,} orders over the last {DAYS} days")
        await _load_orders(conn, now)
        await conn.execute("ANALYZE")
        await conn.execute(
            f"COMMENT ON DATABASE \"{DB_NAME}\" IS 'iwm-bench loaded_at={now.isoformat()}'"
        )
        print(f"data set: ready in {time.perf_counter() - started:.0f} s")
        return fleet()
    finally:
        await conn.close()


if __name__ == "__main__":
    import sys

    asyncio.run(prepare(force="--force" in sys.argv))
