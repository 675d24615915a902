"""GET /api/v1/admin/audit-logs (SUPER_ADMIN only)."""

import uuid

import httpx
import pytest

from iwm.core.principal import Role
from iwm.core.resources import Resources
from tests.factories.admin import API, admin_headers, make_member, submit_kyc
from tests.factories.kiosk_network import login, make_user

LOGS = f"{API}/audit-logs"


async def test_super_admin_reads_the_trail_with_filters(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    admin, admin_h = await admin_headers(client, resources)
    root, root_h = await admin_headers(client, resources, Role.SUPER_ADMIN)
    member = await make_member(resources)
    verification = await submit_kyc(resources, member)
    assert (
        await client.post(f"{API}/users/{member.id}/suspend", json={"reason": "r"}, headers=admin_h)
    ).status_code == 200
    assert (
        await client.post(f"{API}/users/{member.id}/activate", json={}, headers=root_h)
    ).status_code == 200
    assert (
        await client.post(
            f"{API}/kyc/{verification.id}/approve", json={"level": "BASIC"}, headers=admin_h
        )
    ).status_code == 200
    # A refused mutation leaves no trace.
    refused = await client.post(f"{API}/users/{member.id}/activate", json={}, headers=admin_h)
    assert refused.status_code == 400

    resp = await client.get(LOGS, headers=root_h)

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert body["meta"]["pagination"]["total"] == 3
    logs = body["data"]["logs"]
    assert [entry["action"] for entry in logs] == [
        "KYC_APPROVED",
        "USER_ACTIVATED",
        "USER_SUSPENDED",
    ]
    suspended = logs[2]
    assert suspended["admin"] == {
        "id": str(admin.id),
        "email": admin.email,
        "name": admin.full_name,
    }
    assert suspended["entityType"] == "user"
    assert suspended["entityId"] == str(member.id)
    assert suspended["previousValues"]["status"] == "ACTIVE"
    assert suspended["newValues"]["status"] == "SUSPENDED"
    assert suspended["ipAddress"] == "127.0.0.1"
    assert suspended["createdAt"].endswith("Z")

    async def actions(**params: str) -> list[str]:
        r = await client.get(LOGS, params=params, headers=root_h)
        assert r.status_code == 200, r.text
        return [entry["action"] for entry in r.json()["data"]["logs"]]

    assert await actions(adminId=str(root.id)) == ["USER_ACTIVATED"]
    assert await actions(entityType="kyc") == ["KYC_APPROVED"]
    assert await actions(entityId=str(member.id)) == ["USER_ACTIVATED", "USER_SUSPENDED"]
    assert await actions(action="USER_SUSPENDED") == ["USER_SUSPENDED"]
    assert await actions(dateFrom="2000-01-01", dateTo="2000-12-31") == []
    assert len(await actions(dateFrom=logs[2]["createdAt"])) == 3
    assert await actions(adminId=str(uuid.uuid4())) == []

    paged = (await client.get(LOGS, params={"pageSize": 2, "page": 2}, headers=root_h)).json()
    assert paged["meta"]["pagination"] == {
        "total": 3,
        "page": 2,
        "pageSize": 2,
        "totalPages": 2,
        "hasNext": False,
        "hasPrevious": True,
    }
    assert [e["action"] for e in paged["data"]["logs"]] == ["USER_SUSPENDED"]

    for bad in ({"adminId": "nope"}, {"dateFrom": "soon"}, {"pageSize": 0}):
        r = await client.get(LOGS, params=bad, headers=root_h)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("role", [Role.USER, Role.PARTNER, Role.ADMIN])
async def test_only_super_admins_read_the_trail(
    client: httpx.AsyncClient, resources: Resources, role: Role
) -> None:
    headers = await login(client, await make_user(resources, role))
    resp = await client.get(LOGS, headers=headers)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "FORBIDDEN"
    assert (await client.get(LOGS)).status_code == 401
