"""Categories, products and strategies of the admin API."""

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.categories.models import CategoryType
from iwm.modules.products.models import Product
from tests.factories.kiosk_network import count
from tests.factories.money import (
    API,
    admin,
    fresh,
    invest,
    make_category,
    make_chain,
    make_person,
    place_order,
)


async def test_categories_unique_slug_per_type(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    body = {"name": "Здоровье и красота", "type": "PRODUCT"}
    made = await client.post(f"{API}/categories", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["data"]["slug"] == "zdorove-i-krasota"
    again = await client.post(f"{API}/categories", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CATEGORY_ALREADY_EXISTS"
    other_type = await client.post(
        f"{API}/categories", json={**body, "type": "STRATEGY"}, headers=headers
    )
    assert other_type.status_code == 201
    child = await client.post(
        f"{API}/categories",
        json={"name": "Vitamins", "type": "PRODUCT", "parentId": made.json()["data"]["id"]},
        headers=headers,
    )
    assert child.json()["data"]["parentId"] == made.json()["data"]["id"]
    wrong_parent = await client.post(
        f"{API}/categories",
        json={"name": "X", "type": "STRATEGY", "parentId": made.json()["data"]["id"]},
        headers=headers,
    )
    assert wrong_parent.json()["error"]["code"] == "CATEGORY_NOT_FOUND"
    listed = await client.get(f"{API}/categories", params={"type": "PRODUCT"}, headers=headers)
    assert len(listed.json()["data"]["categories"]) == 2
    assert (
        await client.get(f"{API}/categories", params={"type": "X"}, headers=headers)
    ).status_code == 400
    assert await count(await fresh(db), AuditLog, action="CATEGORY_CREATED") == 3


PRODUCT = {
    "name": "Omega 3",
    "description": "Fish oil",
    "price": 19.99,
    "sku": "OMEGA-3",
    "status": "ACTIVE",
    "commissionPercentage": 12.5,
    "careerPointsPercentage": 5,
}


async def test_product_create_update_delete(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    staff, headers = await admin(client, resources)
    category = await make_category(resources, CategoryType.PRODUCT, "Supplements")
    made = await client.post(
        f"{API}/products", json={**PRODUCT, "categoryId": str(category)}, headers=headers
    )
    assert made.status_code == 201, made.text
    data = made.json()["data"]
    assert (data["slug"], data["sku"], data["createdBy"]) == ("omega-3", "OMEGA-3", staff.full_name)
    dup = await client.post(f"{API}/products", json=PRODUCT, headers=headers)
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "SKU_ALREADY_EXISTS"
    second = await client.post(
        f"{API}/products", json={**PRODUCT, "sku": "OMEGA-3B"}, headers=headers
    )
    assert second.json()["data"]["slug"] == "omega-3-2"
    for bad in (
        {**PRODUCT, "sku": "N1", "price": 1.001},
        {**PRODUCT, "sku": "N2", "commissionPercentage": 101},
    ):
        resp = await client.post(f"{API}/products", json=bad, headers=headers)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    pid = data["id"]
    clash = await client.patch(f"{API}/products/{pid}", json={"sku": "OMEGA-3B"}, headers=headers)
    assert clash.json()["error"]["code"] == "SKU_ALREADY_EXISTS"
    upd = await client.patch(
        f"{API}/products/{pid}", json={"price": 21.5, "compareAtPrice": None}, headers=headers
    )
    assert upd.status_code == 200
    assert upd.json()["data"]["updatedBy"] == staff.full_name
    listed = await client.get(f"{API}/products", params={"search": "omega-3b"}, headers=headers)
    assert [p["sku"] for p in listed.json()["data"]["products"]] == ["OMEGA-3B"]
    full = await client.get(
        f"{API}/products", params={"categoryId": str(category)}, headers=headers
    )
    item = full.json()["data"]["products"][0]
    assert (item["price"], item["category"], item["commissionPercentage"]) == (
        21.5,
        "Supplements",
        12.5,
    )
    missing = await client.patch(f"{API}/products/{uuid.uuid4()}", json={}, headers=headers)
    assert missing.json()["error"]["code"] == "PRODUCT_NOT_FOUND"

    buyer = await make_person(resources)
    product = await (await fresh(db)).get(Product, uuid.UUID(pid))
    assert product is not None
    await place_order(resources, buyer, product)
    busy = await client.delete(f"{API}/products/{pid}", headers=headers)
    assert busy.status_code == 400
    assert busy.json()["error"]["code"] == "HAS_PENDING_ORDERS"
    other = second.json()["data"]["id"]
    gone = await client.delete(f"{API}/products/{other}", headers=headers)
    assert gone.status_code == 200
    assert gone.json()["data"]["status"] == "ARCHIVED"
    archived = await client.get(f"{API}/products", params={"status": "ARCHIVED"}, headers=headers)
    assert [p["id"] for p in archived.json()["data"]["products"]] == [other]
    with_orders = await client.get(f"{API}/products", params={"status": "ACTIVE"}, headers=headers)
    assert with_orders.json()["data"]["products"][0]["ordersCount"] == 1
    assert (
        await client.delete(f"{API}/products/{uuid.uuid4()}", headers=headers)
    ).status_code == 404
    await fresh(db)
    for action in ("PRODUCT_CREATED", "PRODUCT_UPDATED", "PRODUCT_DELETED"):
        assert await count(db, AuditLog, action=action) >= 1


async def test_product_update_refuses_loosely_typed_values(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources)
    made = await client.post(f"{API}/products", json=PRODUCT, headers=headers)
    pid = made.json()["data"]["id"]
    # `null` clears only what the contract types `| null`; elsewhere it is a 400.
    for bad in (
        {"name": None},
        {"price": None},
        {"price": "21.5"},
        {"trackInventory": "yes"},
        {"stockQuantity": "7"},
        {"stockQuantity": True},
        {"stockQuantity": 2**63},  # past the column: a 400, not a crash
        {"weight": "1"},
        {"dimensions": {"length": "1", "width": 2, "height": 3}},
        {"tags": ["a\x00b"]},
        {"attributes": {"a\x00": "b"}},
    ):
        resp = await client.patch(f"{API}/products/{pid}", json=bad, headers=headers)
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        field = next(iter(bad))
        details = resp.json()["error"]["details"]
        assert details, bad
        assert all(key.startswith(field) for key in details), details
    kept = await client.get(f"{API}/products", params={"search": "omega"}, headers=headers)
    item = kept.json()["data"]["products"][0]
    assert (item["name"], item["price"], item["stockQuantity"]) == (
        PRODUCT["name"],
        PRODUCT["price"],
        PRODUCT.get("stockQuantity"),
    )


def _strategy(category: uuid.UUID, **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Stable Growth",
        "description": "Bonds",
        "shortDescription": "Bonds",
        "categoryId": str(category),
        "returnRate": {
            "min": 5,
            "max": 12,
            "expected": 8,
            "type": "VARIABLE",
            "payoutFrequency": "MONTHLY",
        },
        "duration": {"minDays": 30, "maxDays": 365, "lockPeriodDays": 30},
        "investment": {
            "minAmount": 100,
            "maxAmount": 10000,
            "currency": "USD",
            "totalCapacity": 1000,
        },
        "riskLevel": "LOW",
        "riskDisclosure": "Capital at risk",
        "terms": {
            "earlyWithdrawalAllowed": True,
            "earlyWithdrawalPenalty": 2,
            "compoundingAvailable": False,
            "automaticReinvestment": False,
        },
        "commissionPercentage": 3,
        "careerPointsPercentage": 1,
        "status": "ACTIVE",
    }
    body.update(over)
    return body


async def test_strategies(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    _, super_headers = await admin(client, resources, Role.SUPER_ADMIN)
    category = await make_category(resources, CategoryType.STRATEGY)
    forbidden = await client.post(f"{API}/strategies", json=_strategy(category), headers=headers)
    assert forbidden.status_code == 403
    unknown = await client.post(
        f"{API}/strategies", json=_strategy(uuid.uuid4()), headers=super_headers
    )
    assert unknown.json()["error"]["code"] == "CATEGORY_NOT_FOUND"
    bad_rate = _strategy(
        category,
        returnRate={
            "min": 5,
            "max": 12,
            "expected": 13,
            "type": "FIXED",
            "payoutFrequency": "DAILY",
        },
    )
    wrong = await client.post(f"{API}/strategies", json=bad_rate, headers=super_headers)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "VALIDATION_ERROR"
    loose = _strategy(category)
    for part, field, value in (
        ("terms", "earlyWithdrawalAllowed", "yes"),
        ("terms", "compoundingAvailable", 1),
        ("duration", "minDays", "30"),
        ("duration", "maxDays", True),
    ):
        body = {**loose, part: {**loose[part], field: value}}
        resp = await client.post(f"{API}/strategies", json=body, headers=super_headers)
        assert resp.status_code == 400, (field, value)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    made = await client.post(f"{API}/strategies", json=_strategy(category), headers=super_headers)
    assert made.status_code == 201, made.text
    sid = made.json()["data"]["id"]
    assert made.json()["data"]["slug"] == "stable-growth"

    chain = await make_chain(resources, levels=1)
    await invest(resources, chain.buyer, uuid.UUID(sid), "600.00")
    listed = await client.get(f"{API}/strategies", headers=headers)
    item = listed.json()["data"]["strategies"][0]
    assert item["capacity"] == {"total": 1000, "used": 600, "available": 400}
    assert item["participants"] == {"total": 1, "active": 1}
    assert item["financials"]["totalInvested"] == 600
    assert item["returnRate"] == {"min": 5, "max": 12, "expected": 8}

    close = await client.patch(
        f"{API}/strategies/{sid}", json={"status": "CLOSED"}, headers=headers
    )
    assert close.status_code == 400
    assert close.json()["error"]["code"] == "HAS_ACTIVE_PARTICIPATIONS"
    too_small = await client.patch(
        f"{API}/strategies/{sid}", json={"investment": {"totalCapacity": 500}}, headers=headers
    )
    assert too_small.json()["error"]["code"] == "VALIDATION_ERROR"
    paused = await client.patch(
        f"{API}/strategies/{sid}",
        json={"status": "PAUSED", "returnRate": {"expected": 10}},
        headers=headers,
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["data"]["status"] == "PAUSED"
    cleared = await client.patch(
        f"{API}/strategies/{sid}", json={"investment": {"maxAmount": None}}, headers=headers
    )
    assert cleared.status_code == 200, cleared.text  # `maxAmount?: number | null`
    for bad in ({"categoryId": None}, {"name": None}, {"terms": {"compoundingAvailable": 1}}):
        resp = await client.patch(f"{API}/strategies/{sid}", json=bad, headers=headers)
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    missing = await client.patch(f"{API}/strategies/{uuid.uuid4()}", json={}, headers=headers)
    assert missing.json()["error"]["code"] == "STRATEGY_NOT_FOUND"
    by_status = await client.get(f"{API}/strategies", params={"status": "ACTIVE"}, headers=headers)
    assert by_status.json()["data"]["strategies"] == []
    big_page = await client.get(f"{API}/strategies", params={"pageSize": 51}, headers=headers)
    assert big_page.status_code == 400
    await fresh(db)
    assert await count(db, AuditLog, action="STRATEGY_CREATED") == 1
    assert await count(db, AuditLog, action="STRATEGY_UPDATED") == 2  # paused, then cleared
