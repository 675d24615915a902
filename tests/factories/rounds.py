"""Kiosk rounds through the API, as the kiosk, the customer and the partner use it."""

from urllib.parse import urlsplit

import httpx

from tests.factories.kiosk_network import KioskHandle


async def set_price(
    client: httpx.AsyncClient,
    partner: dict[str, str],
    kiosk: KioskHandle,
    amount: float | int = 2.5,
    currency: str = "EUR",
) -> httpx.Response:
    resp = await client.post(
        f"/partner/kiosks/{kiosk.id}/price",
        json={"amount": amount, "currency": currency},
        headers=partner,
    )
    assert resp.status_code == 200, resp.text
    return resp


async def open_session(client: httpx.AsyncClient, kiosk: KioskHandle) -> dict[str, object]:
    resp = await client.post(f"/kiosk/{kiosk.id}/sessions", headers=kiosk.headers)
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body


async def pay(client: httpx.AsyncClient, payment_url: str, action: str = "pay") -> None:
    """The customer: opens the page the QR code points at, and submits Pay (or Decline)."""
    path = urlsplit(payment_url).path
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert f'action="{path}"' in page.text
    done = await client.post(path, data={"action": action})
    assert done.status_code == 303, done.text
