"""GET /api/v1/products[/{idOrSlug}], /api/v1/strategies[/{id}]: the active catalogue."""

import uuid
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.categories.models import CategoryType
from iwm.modules.categories.schemas import CategoryCreate
from iwm.modules.categories.service import CategoryService
from iwm.modules.products.schemas import ProductCreate
from iwm.modules.products.service import ProductService
from iwm.modules.strategies.schemas import StrategyUpdate
from iwm.modules.strategies.service import StrategyService
from tests.factories.kiosk_network import login, make_user, principal_of
from tests.factories.money import make_person, make_strategy, strategy_body


async def _category(
    resources: Resources, name: str, type_: CategoryType, parent: uuid.UUID | None = None
) -> uuid.UUID:
    staff = principal_of(await make_user(resources, Role.ADMIN))
    async with resources.sessionmaker.begin() as db:
        row = await CategoryService(db).create(
            staff, CategoryCreate(name=name, type=type_, parent_id=parent)
        )
        return row.id


async def _product(
    resources: Resources,
    name: str,
    category: uuid.UUID | None,
    status: str = "ACTIVE",
    stock: int | None = None,
    price: str = "10.00",
) -> uuid.UUID:
    staff = principal_of(await make_user(resources, Role.ADMIN))
    async with resources.sessionmaker.begin() as db:
        row = await ProductService(db).create(
            staff,
            ProductCreate(
                name=name,
                description=f"All about {name}",
                short_description="Short",
                price=Decimal(price),
                sku=f"SKU-{uuid.uuid4().hex[:8]}",
                category_id=category,
                status=status,  # type: ignore[arg-type]
                stock_quantity=stock,
                track_inventory=stock is not None,
                tags=["daily"],
                commission_percentage=Decimal(10),
                career_points_percentage=Decimal(1),
            ),
        )
        return row.id


async def test_products_active_only_with_category_children_search_and_paging(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    headers = await login(client, await make_person(resources, "Shopper"))
    health = await _category(resources, "Health", CategoryType.PRODUCT)
    vitamins = await _category(resources, "Vitamins", CategoryType.PRODUCT, health)
    sport = await _category(resources, "Sport", CategoryType.PRODUCT)
    tea = await _product(resources, "Herbal Tea", health, price="12.50")
    omega = await _product(resources, "Omega Vitamin", vitamins, stock=0)
    await _product(resources, "Draft Vitamin", vitamins, status="DRAFT")
    await _product(resources, "Old Vitamin", vitamins, status="ARCHIVED")
    ball = await _product(resources, "Ball", sport)

    resp = await client.get(
        "/api/v1/products", params={"categoryId": str(health), "sortBy": "name"}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    names = [p["name"] for p in body["data"]["products"]]
    assert names == ["Omega Vitamin", "Herbal Tea"]  # name, descending by default
    assert body["meta"]["pagination"]["total"] == 2
    omega_row = body["data"]["products"][0]
    assert omega_row["id"] == str(omega)
    assert omega_row["inStock"] is False
    assert omega_row["stockQuantity"] == 0
    assert omega_row["category"]["id"] == str(vitamins)
    assert omega_row["currency"] == resources.settings.currency
    assert "sku" not in omega_row
    assert "commissionPercentage" not in omega_row

    resp = await client.get(
        "/api/v1/products", params={"search": "VITAMIN", "pageSize": 1}, headers=headers
    )
    body = resp.json()
    assert [p["name"] for p in body["data"]["products"]] == ["Omega Vitamin"]
    assert body["meta"]["pagination"]["total"] == 1

    resp = await client.get("/api/v1/products", params={"pageSize": 2, "page": 2}, headers=headers)
    body = resp.json()
    assert body["meta"]["pagination"]["total"] == 3  # tea, omega, ball
    assert len(body["data"]["products"]) == 1

    unknown = await client.get(
        "/api/v1/products", params={"categoryId": str(uuid.uuid4())}, headers=headers
    )
    assert unknown.json()["data"]["products"] == []

    by_id = await client.get(f"/api/v1/products/{tea}", headers=headers)
    assert by_id.status_code == 200
    assert by_id.json()["data"]["price"] == 12.5
    slug = by_id.json()["data"]["slug"]
    by_slug = await client.get(f"/api/v1/products/{slug}", headers=headers)
    assert by_slug.json()["data"]["id"] == str(tea)
    assert (await client.get(f"/api/v1/products/{ball}", headers=headers)).status_code == 200

    draft = await client.get("/api/v1/products/draft-vitamin", headers=headers)
    assert draft.status_code == 404
    assert draft.json()["error"]["code"] == "PRODUCT_NOT_FOUND"
    bad = await client.get("/api/v1/products", params={"sortBy": "sku"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    anonymous = await client.get("/api/v1/products")
    assert anonymous.status_code == 401


async def test_strategies_active_only_with_terms_and_room_left(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    headers = await login(client, await make_person(resources, "Investor"))
    funds = await _category(resources, "Funds", CategoryType.STRATEGY)
    bonds = await _category(resources, "Bonds", CategoryType.STRATEGY, funds)
    steady = await make_strategy(resources, name="Steady Bonds", categoryId=str(bonds))
    paused = await make_strategy(resources, name="Paused Bonds", categoryId=str(bonds))
    boss = principal_of(await make_user(resources, Role.SUPER_ADMIN))
    async with resources.sessionmaker.begin() as session:
        await StrategyService(session, resources.settings).update(
            boss, paused, StrategyUpdate.model_validate({"status": "PAUSED"})
        )

    resp = await client.get(
        "/api/v1/strategies", params={"categoryId": str(funds)}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [s["id"] for s in body["data"]["strategies"]] == [str(steady)]
    assert body["meta"]["pagination"]["total"] == 1
    row = body["data"]["strategies"][0]
    expected = strategy_body(bonds)
    assert row["returnRate"] == {
        "min": 5,
        "max": 12,
        "expected": 8,
        "type": "VARIABLE",
        "payoutFrequency": "MONTHLY",
    }
    assert row["investment"] == {
        "minAmount": 100,
        "maxAmount": 10000,
        "currency": "USD",
        "availableCapacity": 100000,
    }
    assert row["duration"] == expected["duration"]
    assert row["category"]["id"] == str(bonds)
    assert "financials" not in row

    found = await client.get("/api/v1/strategies", params={"search": "steady"}, headers=headers)
    assert [s["name"] for s in found.json()["data"]["strategies"]] == ["Steady Bonds"]
    detail = await client.get(f"/api/v1/strategies/{steady}", headers=headers)
    # Typed as the contract types them: the penalty a JSON number, as it was sent.
    assert detail.json()["data"]["terms"] == expected["terms"]
    gone = await client.get(f"/api/v1/strategies/{paused}", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "STRATEGY_NOT_FOUND"
