"""A kiosk's price: the currency stays once money was taken, so sums never mix currencies."""

import httpx

from iwm.core.resources import Resources
from iwm.modules.kiosks.models import Kiosk, KioskStatus
from tests.factories.kiosk_network import login, make_world
from tests.factories.rounds import open_session, pay, set_price


async def _cash_round(
    client: httpx.AsyncClient, partner: dict[str, str], kiosk_id: str, key: dict[str, str]
) -> None:
    code = (await client.post(f"/partner/kiosks/{kiosk_id}/code", headers=partner)).json()
    redeemed = await client.post(
        f"/kiosk/{kiosk_id}/code/redeem", json={"code": code["code"]}, headers=key
    )
    assert redeemed.status_code == 200, redeemed.text


async def test_the_currency_is_fixed_once_the_kiosk_took_cash(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    await set_price(client, partner, kiosk, 12.5, "EUR")
    await set_price(client, partner, kiosk, 3, "USD")  # nothing taken yet: free to change
    await set_price(client, partner, kiosk, 12.5, "EUR")
    await _cash_round(client, partner, str(kiosk.id), kiosk.headers)

    changed = await client.post(
        f"/partner/kiosks/{kiosk.id}/price",
        json={"amount": 7, "currency": "USD"},
        headers=partner,
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "CURRENCY_IN_USE"
    assert changed.json()["error"]["details"] == {"currency": ["the kiosk sells in EUR"]}
    # The price itself may change; the figures stay in one currency.
    settings = (await set_price(client, partner, kiosk, 7, "EUR")).json()["settings"]
    assert (settings["pricePerRound"], settings["currency"]) == (7, "EUR")
    await _cash_round(client, partner, str(kiosk.id), kiosk.headers)
    cash = (await client.get(f"/partner/kiosks/{kiosk.id}/cash", headers=partner)).json()
    assert (cash["rounds"], cash["amount"], cash["currency"]) == (2, 19.5, "EUR")


async def test_the_currency_is_fixed_once_a_round_was_paid_online(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    await set_price(client, partner, kiosk, 2.5, "EUR")
    unpaid = await open_session(client, kiosk)
    assert unpaid["currency"] == "EUR"
    await set_price(client, partner, kiosk, 9, "ILS")  # an unpaid session is no money
    opened = await open_session(client, kiosk)
    await pay(client, str(opened["paymentUrl"]))
    changed = await client.post(
        f"/partner/kiosks/{kiosk.id}/price",
        json={"amount": 2.5, "currency": "EUR"},
        headers=partner,
    )
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "CURRENCY_IN_USE"
    revenue = (await client.get(f"/partner/kiosks/{kiosk.id}/revenue", headers=partner)).json()
    assert revenue["currency"] == "ILS"


async def test_the_price_is_documented_as_a_json_number(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    amount = spec["components"]["schemas"]["PriceChange"]["properties"]["amount"]
    assert amount["type"] == "number"
    assert "anyOf" not in amount
    assert amount["maximum"] == 1_000_000


async def test_a_kiosk_in_error_says_so_when_asked_to_sell(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    await set_price(client, partner, kiosk)
    async with resources.sessionmaker.begin() as db:
        row = await db.get(Kiosk, kiosk.id)
        assert row is not None
        row.status = KioskStatus.ERROR.value
    refused = await client.post(f"/kiosk/{kiosk.id}/sessions", headers=kiosk.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "KIOSK_INACTIVE"
    assert refused.json()["error"]["message"].startswith("The kiosk is in error")
