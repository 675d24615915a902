import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.activity.models import ActivityLog
from iwm.modules.codes.models import FreeRoundCode
from iwm.modules.kiosks.models import KioskCashEntry
from tests.factories.kiosk_network import KioskHandle, count, login, make_world


async def _issue(client: httpx.AsyncClient, headers: dict[str, str], kiosk: KioskHandle) -> dict:
    resp = await client.post(f"/partner/kiosks/{kiosk.id}/code", headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_issue_cash_code(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    body = await _issue(client, headers, world.kiosks[0])
    assert set(body) == {"code", "type", "issuedAt", "expiresAt"}
    assert len(body["code"]) == 4
    assert body["code"].isdigit()
    assert body["type"] == "cash"
    assert body["issuedAt"].endswith("Z")
    row = (await db.execute(select(FreeRoundCode))).scalar_one()
    assert row.expires_at - row.created_at == timedelta(hours=24)
    log = (await db.execute(select(ActivityLog))).scalar_one()
    assert log.event == "KIOSK_CODE_ISSUED"


async def test_code_type_is_error_after_a_recent_error(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    await client.post(f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json={"code": "E1"})
    assert (await _issue(client, headers, kiosk))["type"] == "error"
    # Cleared, but the error is still within the last 30 minutes.
    await client.post(f"/partner/kiosks/{kiosk.id}/errors/clear", headers=headers)
    assert (await _issue(client, headers, kiosk))["type"] == "error"
    clock.travel(timedelta(minutes=31))
    headers = await login(client, world.partner)
    assert (await _issue(client, headers, kiosk))["type"] == "cash"


async def test_redeem_once_and_record_cash(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    code = (await _issue(client, headers, kiosk))["code"]
    resp = await client.post(
        f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json={"code": code}
    )
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "type": "cash"}
    row = (await db.execute(select(FreeRoundCode))).scalar_one()
    assert row.consumed_at is not None
    assert await count(db, KioskCashEntry, kiosk_id=kiosk.id) == 1
    again = await client.post(
        f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json={"code": code}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CODE_ALREADY_REDEEMED"
    assert await count(db, KioskCashEntry) == 1


async def test_error_codes_are_not_cash(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    await client.post(f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json={"code": "E1"})
    code = (await _issue(client, headers, kiosk))["code"]
    resp = await client.post(
        f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json={"code": code}
    )
    assert resp.json() == {"ok": True, "type": "error"}
    assert await count(db, KioskCashEntry) == 0


async def test_codes_belong_to_their_kiosk_and_expire(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    headers = await login(client, world.partner)
    code = (await _issue(client, headers, first))["code"]
    elsewhere = await client.post(
        f"/kiosk/{second.id}/code/redeem", headers=second.headers, json={"code": code}
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"]["code"] == "INVALID_CODE"
    clock.travel(timedelta(hours=24, seconds=1))
    expired = await client.post(
        f"/kiosk/{first.id}/code/redeem", headers=first.headers, json={"code": code}
    )
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "CODE_EXPIRED"


async def test_malformed_codes_are_400(client: httpx.AsyncClient, resources: Resources) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    for body in ({}, {"code": "12"}, {"code": "abcd"}, {"code": 1234}, {"code": "12345"}):
        resp = await client.post(f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json=body)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_failed_redeems_are_limited_per_kiosk(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    headers = await login(client, world.partner)
    good = (await _issue(client, headers, first))["code"]
    wrong = "0000" if good != "0000" else "0001"
    allowed = resources.settings.redeem_failures_allowed
    for _ in range(allowed):
        resp = await client.post(
            f"/kiosk/{first.id}/code/redeem", headers=first.headers, json={"code": wrong}
        )
        assert resp.status_code == 400
    blocked = await client.post(
        f"/kiosk/{first.id}/code/redeem", headers=first.headers, json={"code": good}
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "RATE_LIMITED"
    assert int(blocked.headers["Retry-After"]) > 0
    # The limit is per kiosk: the other kiosk is not affected.
    other = await client.post(
        f"/kiosk/{second.id}/code/redeem", headers=second.headers, json={"code": wrong}
    )
    assert other.status_code == 400


async def test_fifty_parallel_redeems_one_winner(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    code = (await _issue(client, headers, kiosk))["code"]

    async def redeem() -> int:
        resp = await client.post(
            f"/kiosk/{kiosk.id}/code/redeem", headers=kiosk.headers, json={"code": code}
        )
        return resp.status_code

    statuses = await asyncio.gather(*(redeem() for _ in range(50)))
    assert statuses.count(200) == 1
    assert statuses.count(409) == 49
    assert await count(db, KioskCashEntry) == 1
    assert await count(db, ActivityLog, event="KIOSK_CODE_REDEEMED") == 1


async def test_parallel_issuing_never_duplicates_a_live_code(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)

    async def issue() -> str:
        return (await _issue(client, headers, kiosk))["code"]

    codes: list[str] = []
    for _ in range(4):
        codes += await asyncio.gather(*(issue() for _ in range(40)))
    assert len(codes) == 160
    assert len(set(codes)) == 160
    stored = list((await db.execute(select(FreeRoundCode.code))).scalars())
    assert sorted(stored) == sorted(codes)
