"""Searches are case-insensitive beyond ASCII on both databases; a date filter is an ISO
8601 date, never a bare number; a reversed range is refused on the partner's history too."""

import httpx
import pytest
from sqlalchemy import update

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.users.models import User
from tests.factories.kiosk_network import login, make_order, make_user, make_world
from tests.factories.money import API, admin, make_chain, make_person


@pytest.mark.parametrize("term", ["Ёлкин", "ёлкин", "ЁЛКИН", "Иванова", "müller", "MÜLLER"])
async def test_users_search_ignores_case_in_any_alphabet(
    client: httpx.AsyncClient, resources: Resources, term: str
) -> None:
    _, headers = await admin(client, resources)
    await make_person(resources, "Ёлкин")
    await make_person(resources, "Иванова")
    await make_person(resources, "Müller")
    await make_person(resources, "Smith")
    resp = await client.get(f"{API}/users", params={"search": term}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["meta"]["pagination"]["total"] == 1


async def test_partner_search_and_customer_name_ignore_case_in_any_alphabet(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    async with resources.sessionmaker.begin() as db:
        await db.execute(update(User).where(User.id == chain.users[0].id).values(first_name="Ёлка"))
    found = await client.get(f"{API}/partners", params={"search": "ЁЛКА"}, headers=headers)
    assert found.status_code == 200, found.text
    assert found.json()["meta"]["pagination"]["total"] == 1

    world = await make_world(resources)
    await make_order(resources, world.kiosks[0], customer_name="Ёлкин Иван")
    await make_order(resources, world.kiosks[0], customer_name="John Doe")
    partner_headers = await login(client, world.partner)
    orders = await client.get(
        "/partner/orders", params={"customerName": "ёлкин"}, headers=partner_headers
    )
    assert orders.status_code == 200, orders.text
    assert orders.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("value", ["20261120", "1732600000"])
async def test_a_bare_number_is_not_a_date(
    client: httpx.AsyncClient, resources: Resources, value: str
) -> None:
    _, headers = await admin(client, resources)
    resp = await client.get(f"{API}/users", params={"dateFrom": value}, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    partner = await make_user(resources, Role.PARTNER)
    history = await client.get(
        "/partner/orders", params={"dateFrom": value}, headers=await login(client, partner)
    )
    assert history.status_code == 400, history.text


async def test_partner_history_refuses_a_reversed_range(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    resp = await client.get(
        "/partner/orders",
        params={"dateFrom": "2026-11-26", "dateTo": "2026-11-20"},
        headers=headers,
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "dateFrom" in error["details"]
