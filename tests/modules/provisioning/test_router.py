import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from tests.factories.kiosk_network import count, login, make_user


async def _admin(client: httpx.AsyncClient, resources: Resources) -> dict[str, str]:
    return await login(client, await make_user(resources, Role.ADMIN))


async def test_admin_provisions_shop_and_kiosk_with_a_one_time_key(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    admin = await _admin(client, resources)
    partner = await make_user(resources, Role.PARTNER)
    shop = await client.post(
        "/api/v1/admin/shops",
        json={
            "partnerUserId": str(partner.id),
            "name": "Mall shop",
            "location": "Tel Aviv",
            "timezone": "Asia/Jerusalem",
        },
        headers=admin,
    )
    assert shop.status_code == 201, shop.text
    assert shop.json()["success"] is True
    shop_data = shop.json()["data"]
    assert shop_data["timezone"] == "Asia/Jerusalem"

    kiosk = await client.post(
        "/api/v1/admin/kiosks",
        json={
            "shopId": shop_data["id"],
            "name": "Kiosk #1",
            "location": "Hall A",
            "defaultLanguage": "he",
        },
        headers=admin,
    )
    assert kiosk.status_code == 201, kiosk.text
    data = kiosk.json()["data"]
    assert data["settings"] == {"defaultLanguage": "he", "pricePerRound": None, "currency": None}
    assert data["status"] == "active"
    key = data["deviceKey"]
    beat = await client.post(
        f"/kiosk/{data['id']}/heartbeat", headers={"Authorization": f"Bearer {key}"}
    )
    assert beat.status_code == 200

    listed = await client.get("/api/v1/admin/kiosks", headers=admin)
    assert listed.status_code == 200
    assert listed.json()["meta"]["pagination"]["total"] == 1
    assert "deviceKey" not in listed.json()["data"][0]
    assert await count(db, AuditLog, action="SHOP_CREATED") == 1
    assert await count(db, AuditLog, action="KIOSK_CREATED") == 1


async def test_rotating_the_key_retires_the_old_one(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    admin = await _admin(client, resources)
    partner = await make_user(resources, Role.PARTNER)
    shop = (
        await client.post(
            "/api/v1/admin/shops",
            headers=admin,
            json={"partnerUserId": str(partner.id), "name": "S"},
        )
    ).json()["data"]
    kiosk = (
        await client.post(
            "/api/v1/admin/kiosks", headers=admin, json={"shopId": shop["id"], "name": "K"}
        )
    ).json()["data"]
    rotated = await client.post(f"/api/v1/admin/kiosks/{kiosk['id']}/rotate-key", headers=admin)
    assert rotated.status_code == 200
    new_key = rotated.json()["data"]["deviceKey"]
    assert new_key != kiosk["deviceKey"]
    old = await client.post(
        f"/kiosk/{kiosk['id']}/heartbeat", headers={"Authorization": f"Bearer {kiosk['deviceKey']}"}
    )
    assert old.status_code == 401
    new = await client.post(
        f"/kiosk/{kiosk['id']}/heartbeat", headers={"Authorization": f"Bearer {new_key}"}
    )
    assert new.status_code == 200


async def test_provisioning_errors(client: httpx.AsyncClient, resources: Resources) -> None:
    admin = await _admin(client, resources)
    plain_user = await make_user(resources, Role.USER)
    not_partner = await client.post(
        "/api/v1/admin/shops",
        headers=admin,
        json={"partnerUserId": str(plain_user.id), "name": "S"},
    )
    assert not_partner.status_code == 400
    assert "partnerUserId" in not_partner.json()["error"]["details"]
    missing_user = await client.post(
        "/api/v1/admin/shops", headers=admin, json={"partnerUserId": str(uuid.uuid4()), "name": "S"}
    )
    assert missing_user.status_code == 404
    assert missing_user.json()["error"]["code"] == "USER_NOT_FOUND"
    bad_zone = await client.post(
        "/api/v1/admin/shops",
        headers=admin,
        json={"partnerUserId": str(plain_user.id), "name": "S", "timezone": "Mars/Olympus"},
    )
    assert bad_zone.status_code == 400
    assert "timezone" in bad_zone.json()["error"]["details"]
    no_shop = await client.post(
        "/api/v1/admin/kiosks", headers=admin, json={"shopId": str(uuid.uuid4()), "name": "K"}
    )
    assert no_shop.status_code == 404
    assert no_shop.json()["error"]["code"] == "SHOP_NOT_FOUND"
    rotate_missing = await client.post(
        f"/api/v1/admin/kiosks/{uuid.uuid4()}/rotate-key", headers=admin
    )
    assert rotate_missing.json()["error"]["code"] == "KIOSK_NOT_FOUND"


async def test_only_admins_reach_provisioning(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    partner = await login(client, await make_user(resources, Role.PARTNER))
    user = await login(client, await make_user(resources, Role.USER))
    for headers in (partner, user):
        resp = await client.get("/api/v1/admin/shops", headers=headers)
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "FORBIDDEN"
    assert (await client.get("/api/v1/admin/shops")).status_code == 401
