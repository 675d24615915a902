import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.activity.models import ActivityLog
from iwm.modules.kiosks.models import Kiosk
from tests.factories.kiosk_network import count, login, make_user, make_world


async def test_list_kiosks_has_the_seed_shape(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=3)
    headers = await login(client, world.partner)
    resp = await client.get("/partner/kiosks", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["X-Total-Count"] == "3"
    first = resp.json()[0]
    assert first == {
        "id": str(world.kiosks[0].id),
        "name": "Kiosk #1",
        "location": "Tel Aviv Mall",
        "status": "active",
        "lastErrorCode": None,
        "settings": {"defaultLanguage": "en", "pricePerRound": None, "currency": None},
        "online": False,
        "lastActiveAt": None,
        "shopId": str(world.shop.id),
    }
    paged = await client.get("/partner/kiosks?page=2&pageSize=2", headers=headers)
    assert [k["name"] for k in paged.json()] == ["Kiosk #3"]
    assert paged.headers["X-Total-Count"] == "3"


async def test_kiosk_detail_shows_last_errors(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    for code in ("A1", "B2", "C3", "D4"):
        await client.post(
            f"/kiosk/{kiosk.id}/errors",
            headers=kiosk.headers,
            json={"code": code, "message": f"fault {code}"},
        )
    headers = await login(client, world.partner)
    detail = (await client.get(f"/partner/kiosks/{kiosk.id}", headers=headers)).json()
    assert detail["status"] == "error"
    assert detail["lastErrorCode"] == "D4"
    assert [e["code"] for e in detail["errors"]] == ["D4", "C3", "B2"]
    errors = await client.get(f"/partner/kiosks/{kiosk.id}/errors", headers=headers)
    assert [e["code"] for e in errors.json()] == ["D4", "C3", "B2"]
    more = await client.get(f"/partner/kiosks/{kiosk.id}/errors?limit=10", headers=headers)
    assert len(more.json()) == 4
    bad = await client.get(f"/partner/kiosks/{kiosk.id}/errors?limit=0", headers=headers)
    assert bad.status_code == 400
    assert "limit" in bad.json()["error"]["details"]


@pytest.mark.parametrize("status", ["inactive", "error", "active"])
async def test_status_change_is_logged(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, status: str
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    resp = await client.post(
        f"/partner/kiosks/{world.kiosks[0].id}/status", json={"status": status}, headers=headers
    )
    assert resp.status_code == 200
    assert resp.json()["status"] == status
    log = (
        await db.execute(select(ActivityLog).where(ActivityLog.event == "KIOSK_STATUS_CHANGED"))
    ).scalar_one()
    assert log.actor_id == world.partner.id
    assert log.details == {"previous": "active", "status": status}


async def test_a_malformed_id_in_the_path_is_named_as_the_api_names_it(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    resp = await client.get("/partner/kiosks/not-an-id", headers=headers)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert list(error["details"]) == ["kioskId"]


@pytest.mark.parametrize(
    "query", ["dateTo=1900-01-01", "dateTo=0001-01-01", "dateFrom=9999-12-31", "dateTo=20261126"]
)
async def test_revenue_refuses_far_off_or_malformed_dates(
    client: httpx.AsyncClient, resources: Resources, query: str
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    kid = world.kiosks[0].id
    resp = await client.get(f"/partner/kiosks/{kid}/revenue?{query}", headers=headers)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_bad_status_and_language_are_400(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    kid = world.kiosks[0].id
    for body in ({"status": "broken"}, {"status": 1}, {}, {"status": "active", "x": 1}):
        resp = await client.post(f"/partner/kiosks/{kid}/status", json=body, headers=headers)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    for body in ({"language": "xx"}, {"language": "english"}, {"language": 5}, {}):
        resp = await client.post(f"/partner/kiosks/{kid}/language", json=body, headers=headers)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await count(db, ActivityLog) == 0


async def test_language_change(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    headers = await login(client, world.partner)
    kid = world.kiosks[0].id
    resp = await client.post(
        f"/partner/kiosks/{kid}/language", json={"language": "HE"}, headers=headers
    )
    assert resp.status_code == 200
    assert resp.json()["settings"] == {
        "defaultLanguage": "he",
        "pricePerRound": None,
        "currency": None,
    }
    kiosk = (await db.execute(select(Kiosk).where(Kiosk.id == kid))).scalar_one()
    assert kiosk.default_language == "he"
    assert await count(db, ActivityLog, event="KIOSK_LANGUAGE_SET") == 1


async def test_clear_error(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await client.post(
        f"/kiosk/{kiosk.id}/errors",
        headers=kiosk.headers,
        json={"code": "B2", "message": "Paper jam detected"},
    )
    headers = await login(client, world.partner)
    resp = await client.post(f"/partner/kiosks/{kiosk.id}/errors/clear", headers=headers)
    assert resp.status_code == 200
    assert resp.json()["status"] == "active"
    assert resp.json()["lastErrorCode"] is None
    errors = (await client.get(f"/partner/kiosks/{kiosk.id}/errors", headers=headers)).json()
    assert errors[0]["clearedAt"] is not None
    again = await client.post(f"/partner/kiosks/{kiosk.id}/errors/clear", headers=headers)
    assert again.status_code == 200
    assert await count(db, ActivityLog, event="KIOSK_ERROR_CLEARED") == 1


async def test_a_switched_off_kiosk_stays_off_through_an_error(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    off = await client.post(
        f"/partner/kiosks/{kiosk.id}/status", headers=headers, json={"status": "inactive"}
    )
    assert off.status_code == 200
    report = await client.post(
        f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json={"code": "E9"}
    )
    assert report.status_code == 201
    view = (await client.get(f"/partner/kiosks/{kiosk.id}", headers=headers)).json()
    assert (view["status"], view["lastErrorCode"]) == ("inactive", "E9")
    cleared = await client.post(f"/partner/kiosks/{kiosk.id}/errors/clear", headers=headers)
    assert (cleared.json()["status"], cleared.json()["lastErrorCode"]) == ("inactive", None)
    beat = await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    assert beat.json()["status"] == "inactive"


async def test_another_partners_kiosk_is_not_found(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world_a = await make_world(resources)
    world_b = await make_world(resources, admin=world_a.admin)
    headers_b = await login(client, world_b.partner)
    kid = world_a.kiosks[0].id
    calls = [
        ("GET", f"/partner/kiosks/{kid}", None),
        ("POST", f"/partner/kiosks/{kid}/status", {"status": "inactive"}),
        ("POST", f"/partner/kiosks/{kid}/language", {"language": "fr"}),
        ("POST", f"/partner/kiosks/{kid}/code", None),
        ("GET", f"/partner/kiosks/{kid}/errors", None),
        ("POST", f"/partner/kiosks/{kid}/errors/clear", None),
        ("GET", f"/partner/kiosks/{uuid.uuid4()}", None),
    ]
    for method, path, body in calls:
        resp = await client.request(method, path, json=body, headers=headers_b)
        assert resp.status_code == 404, path
        assert resp.json()["error"]["code"] == "KIOSK_NOT_FOUND"
    listed = await client.get("/partner/kiosks", headers=headers_b)
    assert [k["id"] for k in listed.json()] == [str(world_b.kiosks[0].id)]
    assert await count(db, ActivityLog) == 0


async def test_no_other_role_reaches_the_partner_surface(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    for role in (Role.USER, Role.ADMIN, Role.SUPER_ADMIN):
        headers = await login(client, await make_user(resources, role))
        for path in ("/partner/kiosks", "/partner/orders/new", "/partner/orders"):
            resp = await client.get(path, headers=headers)
            assert resp.status_code == 403, (role, path)
            assert resp.json()["error"]["code"] == "FORBIDDEN"
    # A kiosk's device key is not a user session.
    device = await client.get("/partner/kiosks", headers=world.kiosks[0].headers)
    assert device.status_code == 401
    assert (await client.get("/partner/kiosks")).status_code == 401
