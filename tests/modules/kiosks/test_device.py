from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.activity.models import ActivityLog
from iwm.modules.kiosks.models import Kiosk, KioskErrorReport
from tests.factories.kiosk_network import count, login, make_user, make_world


async def test_heartbeat_marks_the_kiosk_online(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    resp = await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    assert resp.status_code == 200
    assert resp.json()["ok"] is True
    await resources.heartbeats.flush()  # heartbeats are written once a second
    row = (await db.execute(select(Kiosk).where(Kiosk.id == kiosk.id))).scalar_one()
    assert row.last_active_at is not None
    headers = await login(client, world.partner)
    view = (await client.get(f"/partner/kiosks/{kiosk.id}", headers=headers)).json()
    assert view["online"] is True
    clock.travel(timedelta(seconds=resources.settings.online_window_seconds + 5))
    headers = await login(client, world.partner)
    view = (await client.get(f"/partner/kiosks/{kiosk.id}", headers=headers)).json()
    assert view["online"] is False


async def test_device_keys_are_checked_per_kiosk(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    for path in ("heartbeat", "errors", "code/redeem"):
        body = {"code": "1234"} if path != "heartbeat" else None
        missing = await client.post(f"/kiosk/{first.id}/{path}", json=body)
        assert missing.status_code == 401, path
        assert missing.json()["error"]["code"] == "UNAUTHORIZED"
        wrong = await client.post(
            f"/kiosk/{first.id}/{path}", json=body, headers={"Authorization": "Bearer not-a-key"}
        )
        assert wrong.status_code == 401, path
        foreign = await client.post(f"/kiosk/{first.id}/{path}", json=body, headers=second.headers)
        assert foreign.status_code == 403, path
        assert foreign.json()["error"]["code"] == "FORBIDDEN"
    # A user session is not a device key either.
    partner = await login(client, world.partner)
    assert (await client.post(f"/kiosk/{first.id}/heartbeat", headers=partner)).status_code == 401
    admin = await login(client, await make_user(resources, Role.ADMIN))
    assert (await client.post(f"/kiosk/{first.id}/heartbeat", headers=admin)).status_code == 401


async def test_error_report_sets_status_and_logs(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    resp = await client.post(
        f"/kiosk/{kiosk.id}/errors",
        headers=kiosk.headers,
        json={"code": "B2", "message": "Paper jam detected"},
    )
    assert resp.status_code == 201
    assert resp.json()["code"] == "B2"
    assert resp.json()["message"] == "Paper jam detected"
    row = (await db.execute(select(Kiosk).where(Kiosk.id == kiosk.id))).scalar_one()
    assert (row.status, row.last_error_code) == ("error", "B2")
    log = (await db.execute(select(ActivityLog))).scalar_one()
    assert log.event == "KIOSK_ERROR_REPORTED"
    assert log.actor_type == "kiosk"
    assert log.details["code"] == "B2"


async def test_bad_error_reports_write_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    for body in ({}, {"message": "no code"}, {"code": ""}, {"code": 12}, {"code": "x" * 65}):
        resp = await client.post(f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json=body)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await count(db, KioskErrorReport) == 0
    assert await count(db, ActivityLog) == 0
    row = (await db.execute(select(Kiosk).where(Kiosk.id == kiosk.id))).scalar_one()
    assert row.status == "active"


async def test_the_kiosk_learns_its_settings(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    await client.post(
        f"/partner/kiosks/{kiosk.id}/language", headers=headers, json={"language": "he"}
    )
    await client.post(
        f"/partner/kiosks/{kiosk.id}/status", headers=headers, json={"status": "inactive"}
    )
    beat = await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    assert beat.json()["status"] == "inactive"
    assert beat.json()["settings"] == {"defaultLanguage": "he"}
    own = await client.get(f"/kiosk/{kiosk.id}", headers=kiosk.headers)
    assert own.status_code == 200
    assert own.json() == {
        "id": str(kiosk.id),
        "name": "Kiosk #1",
        "status": "inactive",
        "settings": {"defaultLanguage": "he", "pricePerRound": None, "currency": None},
    }
    assert (await client.get(f"/kiosk/{kiosk.id}")).status_code == 401


async def test_nul_characters_are_refused_on_both_databases(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    for body in ({"code": "B2", "message": "bad \x00 nul"}, {"code": "B\x002"}):
        resp = await client.post(f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json=body)
        assert resp.status_code == 400, body
    assert await count(db, KioskErrorReport) == 0
    login_resp = await client.post("/auth/login", json={"email": "a\x00b@x.com", "password": "x"})
    assert login_resp.status_code == 400
    assert "email" in login_resp.json()["error"]["details"]


async def test_only_liveness_connections_skip_the_wal_flush(
    production_only: None, resources: Resources
) -> None:
    from sqlalchemy import text

    async with resources.liveness_engine.connect() as conn:
        assert (await conn.execute(text("SHOW synchronous_commit"))).scalar_one() == "off"
    async with resources.engine.connect() as conn:
        assert (await conn.execute(text("SHOW synchronous_commit"))).scalar_one() == "on"
