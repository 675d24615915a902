"""Money written exactly in JSON on every surface; changes that change nothing are no-ops;
the rollups' internal category keys are unknown categories to a client."""

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.money import json_text, unmark
from iwm.core.resources import Resources
from iwm.core.schemas import CamelModel
from iwm.modules.activity.models import ActivityLog
from iwm.modules.analytics.models import ALL_CATEGORIES, NO_CATEGORY
from iwm.modules.audit.models import AuditLog
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.products.models import Product
from tests.factories.kiosk_network import count, login, make_world
from tests.factories.money import (
    API,
    admin,
    fresh,
    make_category,
    make_person,
    make_product,
    paid_order,
)


def exact(resp: httpx.Response) -> Any:
    """The body with every JSON number read exactly (a float would hide `.0` and lost cents)."""
    return json.loads(resp.text, parse_float=Decimal)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("3200.00", "3200"),
        ("450.50", "450.5"),
        ("0.01", "0.01"),
        ("-10.67", "-10.67"),
        ("99999999999999.99", "99999999999999.99"),
        ("92233720368547758.07", "92233720368547758.07"),  # the largest amount a column holds
        ("1E+3", "1000"),
        ("12.345", "12.35"),  # ROUND_HALF_UP
        ("-0.001", "0"),
    ],
)
def test_json_text(value: str, text: str) -> None:
    assert json_text(Decimal(value)) == text


def test_money_is_written_from_the_decimal() -> None:
    from iwm.core.money import Money

    class Figures(CamelModel):
        total: Money
        missing: Money | None = None
        each: list[Money]

    body = unmark(
        Figures(total=Decimal("99999999999999.99"), each=[Decimal("3200.00"), Decimal("0.10")])
        .model_dump_json(by_alias=True)
        .encode()
    )
    assert body == b'{"total":99999999999999.99,"missing":null,"each":[3200,0.1]}'
    schema = Figures.model_json_schema(mode="serialization")["properties"]
    assert schema["total"] == {"title": "Total", "type": "number"}


async def test_large_and_whole_amounts_in_api_answers(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources)
    product = await make_product(resources, price="9999999999999.99", commission="0", points="0")
    buyer = await make_person(resources)
    await paid_order(resources, buyer, product, quantity=9)
    whole = await make_product(resources, price="3200.00", commission="0", points="0")
    resp = await client.get(f"{API}/products", headers=headers)
    assert resp.status_code == 200
    by_id = {p["id"]: p for p in exact(resp)["data"]["products"]}
    big = by_id[str(product.id)]
    # 9 x 9,999,999,999,999.99: a float round trip writes 89999999999999.9
    assert big["totalRevenue"] == Decimal("89999999999999.91")
    assert '"totalRevenue":89999999999999.91' in resp.text
    assert by_id[str(whole.id)]["price"] == 3200
    assert '"price":3200,' in resp.text
    assert ".0," not in resp.text
    assert ".0}" not in resp.text

    dashboard = await client.get(f"{API}/analytics/dashboard", headers=headers)
    assert dashboard.status_code == 200
    revenue = exact(dashboard)["data"]["orders"]["revenue"]
    assert revenue == Decimal("89999999999999.91")


async def test_amounts_above_the_columns_are_refused(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources)
    body = {
        "name": "Gold",
        "description": "",
        "price": 1,
        "sku": "GOLD-1",
        "status": "ACTIVE",
        "commissionPercentage": 0,
        "careerPointsPercentage": 0,
    }
    for price in (92233720368547758.08, 10**20, 99999999999999.99):
        resp = await client.post(
            f"{API}/products",
            content=json.dumps({**body, "price": price}),
            headers={**headers, "content-type": "application/json"},
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_archiving_twice_and_empty_patch_change_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    staff, headers = await admin(client, resources)
    product = await make_product(resources, price="10.00")
    pid = product.id
    same = await client.patch(
        f"{API}/products/{pid}",
        json={"price": 10, "name": product.name, "sku": product.sku},
        headers=headers,
    )
    assert same.status_code == 200, same.text
    empty = await client.patch(f"{API}/products/{pid}", json={}, headers=headers)
    assert empty.status_code == 200
    row = await (await fresh(db)).get(Product, pid)
    assert row is not None
    assert row.updated_at == product.updated_at
    assert empty.json()["data"]["updatedAt"] == same.json()["data"]["updatedAt"]
    assert await count(db, AuditLog, action="PRODUCT_UPDATED") == 0

    first = await client.delete(f"{API}/products/{pid}", headers=headers)
    assert first.status_code == 200
    row = await (await fresh(db)).get(Product, pid)
    assert row is not None
    archived_at: datetime | None = row.updated_at
    _, other_headers = await admin(client, resources)
    second = await client.delete(f"{API}/products/{pid}", headers=other_headers)
    assert second.status_code == 200
    assert second.json()["data"] == first.json()["data"]
    assert second.json()["data"]["deletedBy"] == staff.full_name
    row = await (await fresh(db)).get(Product, pid)
    assert row is not None
    assert row.updated_at == archived_at
    assert row.updated_by == staff.id
    assert await count(db, AuditLog, action="PRODUCT_DELETED") == 1
    again = await client.patch(
        f"{API}/products/{pid}", json={"status": "ARCHIVED"}, headers=other_headers
    )
    assert again.status_code == 200
    assert again.json()["data"]["updatedBy"] == staff.full_name
    await fresh(db)
    assert await count(db, AuditLog, action="PRODUCT_UPDATED") == 0
    assert await count(db, AuditLog, action="PRODUCT_DELETED") == 1


async def test_language_set_to_the_current_one_logs_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    kid = world.kiosks[0].id
    resp = await client.post(
        f"/partner/kiosks/{kid}/language", json={"language": "EN"}, headers=headers
    )
    assert resp.status_code == 200
    assert resp.json()["settings"] == {
        "defaultLanguage": "en",
        "pricePerRound": None,
        "currency": None,
    }
    assert await count(db, ActivityLog, event="KIOSK_LANGUAGE_SET") == 0
    kiosk = (await db.execute(select(Kiosk).where(Kiosk.id == kid))).scalar_one()
    assert kiosk.default_language == "en"


@pytest.mark.parametrize("key", [ALL_CATEGORIES, NO_CATEGORY, uuid.uuid4()])
async def test_internal_category_keys_are_unknown_categories(
    client: httpx.AsyncClient, resources: Resources, key: uuid.UUID
) -> None:
    _, headers = await admin(client, resources)
    category = await make_category(resources)
    product = await make_product(resources, price="25.00")
    async with resources.sessionmaker.begin() as session:
        row = await session.get(Product, product.id)
        assert row is not None
        row.category_id = category
    await paid_order(resources, await make_person(resources), product)
    resp = await client.get(
        f"{API}/analytics/sales",
        params={"period": "MONTH", "categoryId": str(key)},
        headers=headers,
    )
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data["summary"]["totalOrders"] == 0
    assert data["summary"]["totalRevenue"] == 0
    assert data["byCategory"] == []
    assert data["topProducts"] == []
    assert data["byPaymentMethod"] == []


async def test_deleting_a_product_archived_by_patch_records_the_deletion(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    staff, headers = await admin(client, resources)
    product = await make_product(resources, price="10.00")
    archived = await client.patch(
        f"{API}/products/{product.id}", json={"status": "ARCHIVED"}, headers=headers
    )
    assert archived.status_code == 200, archived.text
    deleted = await client.delete(f"{API}/products/{product.id}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"]["deletedBy"] == staff.full_name
    assert deleted.json()["data"]["deletedAt"]
    row = await (await fresh(db)).get(Product, product.id)
    assert row is not None
    assert row.deleted_at is not None
    assert await count(db, AuditLog, action="PRODUCT_DELETED") == 1
    again = await client.delete(f"{API}/products/{product.id}", headers=headers)
    assert again.status_code == 200
    assert again.json()["data"] == deleted.json()["data"]
    assert await count(await fresh(db), AuditLog, action="PRODUCT_DELETED") == 1
