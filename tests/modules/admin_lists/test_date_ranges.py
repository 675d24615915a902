"""`dateFrom` / `dateTo` mean the same on every admin list: a date is its whole day (UTC),
a reversed range and a far-off year are a 400, never a 500."""

import httpx
import pytest

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from tests.factories.money import API, admin, make_chain, make_product, paid_order

LISTS = ["users", "commissions", "orders", "payouts", "audit-logs"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "params",
    [
        {"dateTo": "9999-12-31"},
        {"dateFrom": "1900-01-01", "dateTo": "9999-12-31"},
        {"dateFrom": "0001-01-01T00:00:00+14:00"},
        {"dateTo": "9999-12-31T23:59:59-12:00"},
    ],
    ids=["far-dateTo", "far-both", "year-1-east", "year-9999-west"],
)
async def test_far_off_dates_are_refused(
    client: httpx.AsyncClient, resources: Resources, path: str, params: dict[str, str]
) -> None:
    _, headers = await admin(client, resources, Role.SUPER_ADMIN)
    resp = await client.get(f"{API}/{path}", params=params, headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert set(resp.json()["error"]["details"]) <= {"dateFrom", "dateTo"}


@pytest.mark.parametrize("path", LISTS)
async def test_a_reversed_range_is_refused(
    client: httpx.AsyncClient, resources: Resources, path: str
) -> None:
    _, headers = await admin(client, resources, Role.SUPER_ADMIN)
    resp = await client.get(
        f"{API}/{path}", params={"dateFrom": "2026-12-01", "dateTo": "2026-11-01"}, headers=headers
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["details"] == {"dateFrom": ["must not be after dateTo"]}


async def test_a_date_means_its_whole_day_on_money_lists(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin(client, resources, Role.SUPER_ADMIN)
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="100.00", commission="10", points="0")
    await paid_order(resources, chain.buyer, product)
    today = clock.now().date().isoformat()
    for path, key in (("orders", "orders"), ("commissions", "commissions")):
        same_day = await client.get(
            f"{API}/{path}", params={"dateFrom": today, "dateTo": today}, headers=headers
        )
        assert same_day.status_code == 200
        assert len(same_day.json()["data"][key]) == 1, path
        until_today = await client.get(f"{API}/{path}", params={"dateTo": today}, headers=headers)
        assert len(until_today.json()["data"][key]) == 1, path
