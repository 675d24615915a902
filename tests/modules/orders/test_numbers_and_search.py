"""Short order numbers per shop, the one search box, and the lists' JSON written from rows."""

import asyncio
import json
import uuid

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.modules.kiosks.schemas import KioskRead
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.models import Order
from iwm.modules.orders.service import OrderService
from tests.factories.images import jpeg
from tests.factories.kiosk_network import KioskHandle, login, make_order, make_world


async def _upload(
    client: httpx.AsyncClient, kiosk: KioskHandle, name: str, phone: str = "+972 50-123-4567"
) -> dict[str, object]:
    resp = await client.post(
        f"/kiosk/{kiosk.id}/orders",
        headers=kiosk.headers,
        data={
            "customerName": name,
            "customerEmail": f"{name.split(maxsplit=1)[0]}@x.com".lower(),
            "customerPhone": phone,
        },
        files={"image": ("p.jpg", jpeg(), "image/jpeg")},
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body


async def test_numbers_count_up_per_shop_and_show_everywhere(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world_a = await make_world(resources, kiosks=2)
    world_b = await make_world(resources, admin=world_a.admin)
    first = await _upload(client, world_a.kiosks[0], "Noa Levi")
    second = await _upload(client, world_a.kiosks[1], "Dan Cohen")
    other_shop = await _upload(client, world_b.kiosks[0], "Eli Katz")
    # The kiosk's answer carries the number it shows the customer.
    assert (first["number"], second["number"], other_shop["number"]) == (1, 2, 1)
    headers = await login(client, world_a.partner)
    new = (await client.get("/partner/orders/new", headers=headers)).json()
    assert {o["customerName"]: o["number"] for o in new} == {"Noa Levi": 1, "Dan Cohen": 2}
    listed = (await client.get("/partner/orders", headers=headers)).json()
    assert sorted(o["number"] for o in listed) == [1, 2]
    one = (await client.get(f"/partner/orders/{first['id']}", headers=headers)).json()
    assert one["number"] == 1


async def test_parallel_uploads_of_one_shop_get_distinct_numbers(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources, kiosks=3)
    answers = await asyncio.gather(
        *(_upload(client, world.kiosks[i % 3], f"Customer {i}") for i in range(9))
    )
    assert sorted(int(str(a["number"])) for a in answers) == list(range(1, 10))
    stored = (await db.execute(select(Order.number))).scalars().all()
    assert sorted(stored) == list(range(1, 10))


async def test_one_search_box_finds_name_email_phone_and_number(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await _upload(client, kiosk, "Noa Levi", "+972 50-123-4567")
    await _upload(client, kiosk, "Dan Cohen", "052 765 4321")
    third = await _upload(client, kiosk, "Maya 100% Real_Name", "+1 (212) 555-0199")
    headers = await login(client, world.partner)

    async def names(q: str) -> list[str]:
        resp = await client.get("/partner/orders", params={"q": q}, headers=headers)
        assert resp.status_code == 200, resp.text
        assert int(resp.headers["X-Total-Count"]) == len(resp.json())
        return sorted(o["customerName"] for o in resp.json())

    assert await names("levi") == ["Noa Levi"]
    assert await names("DAN@") == ["Dan Cohen"]
    # The local form of +972 50-123-4567, as an owner types it at the counter.
    assert await names("0501234567") == ["Noa Levi"]
    assert await names("050-123 4567") == ["Noa Levi"]
    assert await names("0527654321") == ["Dan Cohen"]  # stored in the local form itself
    assert await names("501234567") == ["Noa Levi"]
    assert await names("765-4321") == ["Dan Cohen"]
    assert await names("#2") == ["Dan Cohen"]
    assert await names(str(third["number"])) == ["Maya 100% Real_Name"]
    # LIKE's wildcards are plain characters in a search.
    assert await names("100%") == ["Maya 100% Real_Name"]
    assert await names("_") == ["Maya 100% Real_Name"]
    assert await names("nobody") == []
    # The search combines with the other filters.
    resp = await client.get(
        "/partner/orders", params={"q": "noa", "status": "printed"}, headers=headers
    )
    assert resp.json() == []
    too_long = await client.get("/partner/orders", params={"q": "x" * 201}, headers=headers)
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_lists_json_equals_the_models_json(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    """The busy lists write their JSON from rows: it must be exactly the models' JSON."""
    world = await make_world(resources, kiosks=2)
    orders = [await make_order(resources, world.kiosks[i % 2], f"Name {i}") for i in range(3)]
    await db.execute(update(Order).where(Order.id == orders[0].id).values(printed_at=clock.now()))
    await db.execute(
        update(Order).where(Order.id == orders[1].id).values(customer_email="", customer_phone="")
    )
    await db.commit()
    partner = Principal(world.partner.id, world.partner.email, frozenset({Role.PARTNER}), "x")
    headers = await login(client, world.partner)
    async with resources.sessionmaker() as session:
        service = OrderService(session, resources.settings, resources.storage)
        rows = await service.new_orders(partner)
        expected = [v.model_dump(mode="json", by_alias=True) for v in await service.views(rows)]
        assert json.loads(await service.json(rows)) == expected
        kiosks, _ = await KioskService(session, resources.settings).list_owned(partner, 1, 20)
    assert (await client.get("/partner/orders/new", headers=headers)).json() == expected
    window = resources.settings.online_window_seconds
    expected_kiosks = [
        KioskRead.build(k, window).model_dump(mode="json", by_alias=True) for k in kiosks
    ]
    listed = await client.get("/partner/kiosks", headers=headers)
    assert listed.json() == expected_kiosks
    assert listed.headers["X-Total-Count"] == "2"
    assert {o["printedAt"] is None for o in expected} == {True, False}
    assert None in {o["customerEmail"] for o in expected}


async def test_kiosk_list_total_without_a_full_page(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=3)
    headers = await login(client, world.partner)
    for page, size, count, total in [
        (1, 2, 2, "3"),
        (2, 2, 1, "3"),
        (3, 2, 0, "3"),
        (1, 5, 3, "3"),
    ]:
        resp = await client.get(
            "/partner/kiosks", params={"page": page, "pageSize": size}, headers=headers
        )
        assert resp.status_code == 200
        assert len(resp.json()) == count
        assert resp.headers["X-Total-Count"] == total
    assert uuid.UUID(resp.json()[0]["id"])
