"""The member's checkout through the API: an address, an order with an Idempotency-Key,
the provider's page, and the rank plan with a fast-start bonus."""

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from iwm.core.resources import Resources
from iwm.modules.ranks.schemas import DEFAULT_PLAN

ORDERS = "/api/v1/orders"
ADDRESSES = "/api/v1/me/addresses"


async def add_address(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    resp = await client.post(
        ADDRESSES,
        json={
            "label": "Home",
            "country": "RU",
            "city": "Moscow",
            "street": "Tverskaya",
            "building": "1",
            "postalCode": "125009",
        },
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    address_id: str = resp.json()["data"]["id"]
    return address_id


def order_body(
    address_id: str, *lines: tuple[Any, int], method: str = "STANDARD"
) -> dict[str, Any]:
    return {
        "items": [{"productId": str(pid), "quantity": qty} for pid, qty in lines],
        "shippingAddressId": address_id,
        "shippingMethod": method,
    }


async def checkout(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        ORDERS, json=body, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


async def pay_page(client: httpx.AsyncClient, checkout_url: str, action: str = "pay") -> str:
    """The member in a browser: opens the checkout URL, submits Pay (or Decline) as the
    page's form does, follows the redirect; the page's text after it."""
    path = urlsplit(checkout_url).path
    page = await client.get(path)
    assert page.status_code == 200, page.text
    assert f'action="{path}"' in page.text
    done = await client.post(path, data={"action": action})
    assert done.status_code == 303, done.text
    after = await client.get(done.headers["location"])
    assert after.status_code == 200
    return after.text


def use_fast_start(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, percent: int = 5
) -> None:
    """The built-in plan with a fast-start bonus (the built-in plan pays none)."""
    plan = DEFAULT_PLAN.model_copy(
        update={"version": f"test-{percent}", "fast_start_percent": Decimal(percent)}
    )
    path = tmp_path / "plan.json"
    path.write_text(plan.model_dump_json(by_alias=True), encoding="utf-8")
    monkeypatch.setattr(resources.settings, "rank_plan_file", str(path))
