"""A kiosk's retry of an order upload or a code redeem with the same Idempotency-Key gets
the first answer and creates nothing: a lost answer no longer makes a duplicate order or
costs the customer a free round."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.idempotency import IdempotentAnswer
from iwm.core.resources import Resources
from iwm.modules.cleanup.service import CleanupService
from iwm.modules.orders.models import Order
from tests.factories.images import jpeg, png
from tests.factories.kiosk_network import count, login, make_world
from tests.factories.money import fresh

FORM = {"customerName": "John Doe", "customerEmail": "john@example.com"}


async def _upload(
    client: httpx.AsyncClient, kiosk: object, image: bytes, key: str | None
) -> httpx.Response:
    headers = dict(kiosk.headers)  # type: ignore[attr-defined]
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(
        f"/kiosk/{kiosk.id}/orders",  # type: ignore[attr-defined]
        headers=headers,
        data=FORM,
        files={"image": ("photo.jpg", image, "image/jpeg")},
    )


async def test_an_upload_retried_with_its_key_returns_the_same_order(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    photo = jpeg()
    first = await _upload(client, kiosk, photo, "attempt-1")
    assert first.status_code == 201, first.text
    again = await _upload(client, kiosk, photo, "attempt-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(db, Order) == 1
    # Another key is another order; no key keeps the old behaviour.
    assert (await _upload(client, kiosk, photo, "attempt-2")).json()["id"] != first.json()["id"]
    assert (await _upload(client, kiosk, photo, None)).status_code == 201
    assert await count(await fresh(db), Order) == 3


async def test_a_key_reused_for_another_upload_is_refused(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    assert (await _upload(client, kiosk, jpeg(), "attempt-1")).status_code == 201
    other = await _upload(client, kiosk, png(), "attempt-1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await count(db, Order) == 1


async def test_a_redeem_retried_with_its_key_answers_ok_again(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    issued = await client.post(f"/partner/kiosks/{kiosk.id}/code", headers=headers)
    code = issued.json()["code"]
    keyed = {**kiosk.headers, "Idempotency-Key": "redeem-1"}
    first = await client.post(f"/kiosk/{kiosk.id}/code/redeem", headers=keyed, json={"code": code})
    assert first.status_code == 200, first.text
    assert first.json()["ok"] is True
    again = await client.post(f"/kiosk/{kiosk.id}/code/redeem", headers=keyed, json={"code": code})
    assert again.status_code == 200
    assert again.json() == first.json()
    # Without the key the code is spent, as before.
    plain = await client.post(
        f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json={"code": code}
    )
    assert plain.status_code == 409
    assert plain.json()["error"]["code"] == "CODE_ALREADY_REDEEMED"


async def test_the_cleanup_forgets_answers_after_a_day(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    assert (await _upload(client, kiosk, jpeg(), "attempt-1")).status_code == 201
    assert (await CleanupService(resources).run()).idempotent_answers == 0
    clock.travel(timedelta(days=1, minutes=1))
    assert (await CleanupService(resources).run()).idempotent_answers == 1
    assert await count(await fresh(db), IdempotentAnswer) == 0
