"""GET /api/v1/admin/analytics/{dashboard,sales,commissions}: every figure checked against
values worked out by hand from a small data set made through the services."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.products.models import Product
from iwm.modules.products.schemas import ProductCreate
from iwm.modules.products.service import ProductService
from iwm.modules.shop_orders.models import ShopOrder
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.users.models import User
from iwm.modules.users.service import UserService
from tests.factories.kiosk_network import login, make_user, principal_of
from tests.factories.money import (
    API,
    cancel_order,
    make_category,
    make_chain,
    make_person,
    make_product,
    paid_order,
    place_order,
)

ANALYTICS = f"{API}/analytics"


async def _product(resources: Resources, price: str, category: uuid.UUID, name: str) -> Product:
    staff = await make_user(resources, Role.ADMIN)
    async with resources.sessionmaker.begin() as db:
        return await ProductService(db).create(
            principal_of(staff),
            ProductCreate(
                name=name,
                description="",
                price=Decimal(price),
                sku=f"SKU-{uuid.uuid4().hex[:8]}",
                status="ACTIVE",
                category_id=category,
                commission_percentage=Decimal(0),
                career_points_percentage=Decimal(0),
            ),
        )


async def _order(
    resources: Resources,
    user: User,
    lines: list[tuple[Product, int]],
    method: str = "CARD",
) -> ShopOrder:
    async with resources.sessionmaker.begin() as db:
        service = ShopOrderService(db, resources.settings)
        order = await service.place(user.id, [OrderLine(p.id, q) for p, q in lines])
        return await service.pay(order.id, payment_method=method)


async def _buyer(resources: Resources, name: str, country: str) -> User:
    user = await make_person(resources, name)
    async with resources.sessionmaker.begin() as db:
        await UserService(db).add_address(user.id, country=country, city="X", is_default=True)
    return user


async def _admin(client: httpx.AsyncClient, resources: Resources) -> dict[str, str]:
    return await login(client, await make_user(resources, Role.ADMIN))


async def _get(client: httpx.AsyncClient, headers: dict[str, str], path: str, **params: str):  # type: ignore[no-untyped-def]
    resp = await client.get(f"{ANALYTICS}/{path}", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


async def test_empty_database_gives_zeros_and_empty_lists(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    headers = await _admin(client, resources)
    sales = await _get(client, headers, "sales", period="WEEK")
    assert sales["summary"] == {
        "totalRevenue": 0,
        "totalOrders": 0,
        "averageOrderValue": 0,
        "totalCustomers": 0,
        "newCustomers": 0,
        "repeatCustomers": 0,
    }
    assert len(sales["timeline"]) == 7
    assert all(p["revenue"] == 0 and p["orders"] == 0 for p in sales["timeline"])
    assert sales["byCategory"] == sales["topProducts"] == sales["byPaymentMethod"] == []
    assert sales["byRegion"] == []

    comm = await _get(client, headers, "commissions", period="YEAR")
    assert set(comm["summary"].values()) == {0}
    assert len(comm["timeline"]) in (12, 13)  # monthly buckets of the last 365 days
    assert comm["bySource"] == comm["byLevel"] == comm["byRank"] == comm["topEarners"] == []
    assert set(comm["payoutStats"].values()) == {0}

    dash = await _get(client, headers, "dashboard", period="TODAY")
    assert dash["users"] == {
        "total": 1,
        "newInPeriod": 1,
        "active": 1,
        "suspended": 0,
        "growth": 100,
    }  # the admin who asks
    for block in ("partners", "orders", "investments", "commissions", "payouts"):
        assert set(dash[block].values()) == {0}, block
    assert dash["quickStats"] == {
        "conversionRate": 0,
        "averagePartnerEarnings": 0,
        "partnerRetentionRate": 0,
        "investmentRetentionRate": 0,
    }


async def test_roles_and_bad_parameters(client: httpx.AsyncClient, resources: Resources) -> None:
    for role in (Role.USER, Role.PARTNER):
        headers = await login(client, await make_user(resources, role))
        for path in ("dashboard", "sales", "commissions"):
            resp = await client.get(f"{ANALYTICS}/{path}", headers=headers)
            assert resp.status_code == 403, (role, path)
    assert (await client.get(f"{ANALYTICS}/sales")).status_code == 401
    headers = await _admin(client, resources)
    bad = [
        ("dashboard", {"period": "DECADE"}),
        ("sales", {"period": "TODAY"}),
        ("sales", {"granularity": "HOUR"}),
        ("sales", {"categoryId": "not-a-uuid"}),
        ("commissions", {"period": "week"}),
        ("commissions", {"granularity": "YEAR"}),
    ]
    for path, params in bad:
        resp = await client.get(f"{ANALYTICS}/{path}", params=params, headers=headers)
        assert resp.status_code == 400, (path, params)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    for period in ("WEEK", "MONTH", "QUARTER", "YEAR"):
        for granularity in ("DAY", "WEEK", "MONTH"):
            for path in ("sales", "commissions"):
                await _get(client, headers, path, period=period, granularity=granularity)
    for period in ("TODAY", "WEEK", "MONTH", "QUARTER", "YEAR"):
        await _get(client, headers, "dashboard", period=period)


async def test_sales_figures(client: httpx.AsyncClient, resources: Resources) -> None:
    books = await make_category(resources, name="Books")
    food = await make_category(resources, name="Food")
    novel = await _product(resources, "100.00", books, "Novel")
    atlas = await _product(resources, "45.50", books, "Atlas")
    tea = await _product(resources, "30.25", food, "Tea")
    anna = await _buyer(resources, "Anna", "DE")
    boris = await _buyer(resources, "Boris", "FR")
    carl = await make_person(resources, "Carl")  # no address: region UNKNOWN
    dora = await _buyer(resources, "Dora", "DE")

    # 60 days ago (inside QUARTER and YEAR, not MONTH): Anna buys a novel.
    clock.travel(timedelta(days=-60))
    await _order(resources, anna, [(novel, 1)])
    clock.reset()
    # Within the month:
    await _order(resources, anna, [(novel, 2), (tea, 1)], "CARD")  # 230.25 (books 200, food 30.25)
    await _order(resources, boris, [(atlas, 1)], "BANK_TRANSFER")  # 45.50
    await _order(resources, carl, [(tea, 3)], "CARD")  # 90.75
    refunded = await _order(resources, dora, [(novel, 5)], "CARD")  # 500, refunded below
    await cancel_order(resources, refunded)
    await place_order(resources, dora, tea, 1)  # never paid

    headers = await _admin(client, resources)
    month = await _get(client, headers, "sales", period="MONTH", granularity="DAY")
    # Revenue 230.25 + 45.50 + 90.75 = 366.50 over 3 orders: AOV 122.1666 -> 122.17.
    assert month["summary"] == {
        "totalRevenue": 366.5,
        "totalOrders": 3,
        "averageOrderValue": 122.17,
        "totalCustomers": 3,  # Anna, Boris, Carl
        "newCustomers": 2,  # Boris and Carl; Anna first bought 60 days ago
        "repeatCustomers": 1,  # Anna: two paid orders
    }
    today = clock.now().date().isoformat()
    assert len(month["timeline"]) == 30
    assert month["timeline"][-1] == {
        "date": today,
        "revenue": 366.5,
        "orders": 3,
        "averageOrderValue": 122.17,
    }
    assert sum(p["orders"] for p in month["timeline"]) == 3
    # Books: 200 + 45.50 = 245.50 of 366.50 = 66.98 %; food 30.25 + 90.75 = 121 = 33.02 %.
    assert month["byCategory"] == [
        {
            "categoryId": str(books),
            "categoryName": "Books",
            "revenue": 245.5,
            "orders": 2,
            "percentage": 66.98,
        },
        {
            "categoryId": str(food),
            "categoryName": "Food",
            "revenue": 121,
            "orders": 2,
            "percentage": 33.02,
        },
    ]
    assert month["topProducts"] == [
        {"productId": str(novel.id), "productName": "Novel", "revenue": 200, "quantity": 2},
        {"productId": str(tea.id), "productName": "Tea", "revenue": 121, "quantity": 4},
        {"productId": str(atlas.id), "productName": "Atlas", "revenue": 45.5, "quantity": 1},
    ]
    # Card: 230.25 + 90.75 = 321 (87.59 %); bank transfer 45.50 (12.41 %).
    assert month["byPaymentMethod"] == [
        {"method": "CARD", "count": 2, "amount": 321, "percentage": 87.59},
        {"method": "BANK_TRANSFER", "count": 1, "amount": 45.5, "percentage": 12.41},
    ]
    assert month["byRegion"] == [
        {"region": "DE", "revenue": 230.25, "orders": 1},
        {"region": "UNKNOWN", "revenue": 90.75, "orders": 1},
        {"region": "FR", "revenue": 45.5, "orders": 1},
    ]

    year = await _get(client, headers, "sales", period="YEAR")
    assert year["summary"]["totalRevenue"] == 466.5
    assert year["summary"]["totalOrders"] == 4
    assert year["summary"]["newCustomers"] == 3
    assert year["summary"]["repeatCustomers"] == 1
    assert sum(p["revenue"] for p in year["timeline"]) == 466.5

    # Books only: orders with a book line; customers who bought a book.
    only_books = await _get(client, headers, "sales", period="MONTH", categoryId=str(books))
    assert only_books["summary"] == {
        "totalRevenue": 245.5,
        "totalOrders": 2,
        "averageOrderValue": 122.75,
        "totalCustomers": 2,  # Anna, Boris
        "newCustomers": 1,  # Boris
        "repeatCustomers": 1,  # Anna: two orders with books
    }
    assert [c["categoryId"] for c in only_books["byCategory"]] == [str(books)]
    assert only_books["byCategory"][0]["percentage"] == 100
    assert [p["productName"] for p in only_books["topProducts"]] == ["Novel", "Atlas"]
    assert only_books["byPaymentMethod"] == [
        {"method": "CARD", "count": 1, "amount": 200, "percentage": 81.47},
        {"method": "BANK_TRANSFER", "count": 1, "amount": 45.5, "percentage": 18.53},
    ]
    other = await _get(client, headers, "sales", period="MONTH", categoryId=str(uuid.uuid4()))
    assert other["summary"]["totalOrders"] == 0
    assert other["byCategory"] == []

    week = await _get(client, headers, "sales", period="YEAR", granularity="MONTH")
    assert week["timeline"][-1]["date"] == clock.now().date().replace(day=1).isoformat()


async def test_commission_figures(client: httpx.AsyncClient, resources: Resources) -> None:
    # Plan 50,20,10,...; a 100.00 product at 10 % gives a volume of 10.00:
    # level 1 earns 5.00 and level 2 earns 2.00 per order.
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, price="100.00", commission="10", points="0")
    await paid_order(resources, chain.buyer, product)
    cancelled = await paid_order(resources, chain.buyer, product)
    await cancel_order(resources, cancelled)  # both its commissions become REVERSED
    clock.travel(timedelta(days=-100))  # outside QUARTER, inside YEAR
    await paid_order(resources, chain.buyer, product)
    clock.reset()

    headers = await _admin(client, resources)
    q = await _get(client, headers, "commissions", period="QUARTER", granularity="DAY")
    assert q["summary"] == {
        "totalGenerated": 14,
        "totalPaid": 0,
        "totalPending": 7,
        "totalReversed": 7,
        "averageCommission": 3.5,
        "partnersEarning": 2,
    }
    assert len(q["timeline"]) == 90
    assert q["timeline"][-1] == {
        "date": clock.now().date().isoformat(),
        "generated": 14,
        "paid": 0,
        "reversed": 7,
    }
    assert q["bySource"] == [{"sourceType": "ORDER", "total": 14, "count": 4, "percentage": 100}]
    assert q["byLevel"] == [
        {"level": 1, "total": 10, "count": 2, "averageAmount": 5},
        {"level": 2, "total": 4, "count": 2, "averageAmount": 2},
    ]
    assert q["topEarners"] == []  # nothing approved yet: totalEarned is 0 for everybody
    y = await _get(client, headers, "commissions", period="YEAR")
    assert y["summary"]["totalGenerated"] == 21
    assert y["summary"]["totalPending"] == 14
    assert y["summary"]["averageCommission"] == 3.5


async def test_dashboard_figures(client: httpx.AsyncClient, resources: Resources) -> None:
    clock.travel(timedelta(days=-10))  # before WEEK, inside MONTH
    await make_person(resources, "Old")
    chain = await make_chain(resources, levels=1)  # 2 users, 2 partners
    product = await make_product(resources, price="80.00", commission="10", points="0")  # +1 staff
    await paid_order(resources, chain.buyer, product)  # revenue 80, commission 4.00
    clock.reset()
    fresh_user = await make_person(resources, "New")
    await paid_order(resources, fresh_user, product)  # revenue 80, no partner: no commission
    await paid_order(resources, fresh_user, product)
    headers = await _admin(client, resources)  # +1 user, signed in now

    week = await _get(client, headers, "dashboard", period="WEEK")
    # Users: old, 2 of the chain, 1 staff 10 days ago; fresh_user and the admin now.
    assert week["users"] == {
        "total": 6,
        "newInPeriod": 2,
        "active": 1,
        "suspended": 0,
        "growth": -50,  # 2 this week against 4 the week before
    }
    assert week["partners"] == {"total": 2, "newInPeriod": 0, "active": 2, "growth": -100}
    assert week["orders"] == {
        "total": 3,
        "inPeriod": 2,
        "revenue": 160,
        "averageOrderValue": 80,
        "growth": 100,  # 160 against 80
    }
    assert week["commissions"] == {"totalPaid": 0, "paidInPeriod": 0, "pending": 4, "growth": -100}
    assert week["payouts"] == {
        "totalProcessed": 0,
        "processedInPeriod": 0,
        "pending": 0,
        "pendingAmount": 0,
    }
    assert week["quickStats"] == {
        "conversionRate": 16.67,  # 1 buyer this week of 6 users
        "averagePartnerEarnings": 0,
        "partnerRetentionRate": 100,  # both partners joined before and are ACTIVE
        "investmentRetentionRate": 0,
    }
    month = await _get(client, headers, "dashboard", period="MONTH")
    assert month["users"]["newInPeriod"] == 6
    assert month["users"]["growth"] == 100
    assert month["orders"]["inPeriod"] == 3
    assert month["orders"]["revenue"] == 240
    assert month["quickStats"]["conversionRate"] == 33.33  # 2 buyers of 6
    start = datetime.fromisoformat(month["periodStart"].replace("Z", "+00:00"))
    assert start == datetime.combine(
        clock.now().date() - timedelta(days=29), datetime.min.time(), tzinfo=UTC
    )
    assert (
        pytest.approx(
            datetime.fromisoformat(month["periodEnd"].replace("Z", "+00:00")).timestamp(), abs=5
        )
        == clock.now().timestamp()
    )
