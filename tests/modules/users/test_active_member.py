"""`ActiveMember`: what only a verified account may do answers 403 EMAIL_NOT_VERIFIED to an
account still PENDING_VERIFICATION, and lets an ACTIVE one through."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from iwm.core.config import Settings
from iwm.core.resources import Resources
from iwm.main import create_app
from iwm.modules.users.deps import ActiveMember
from iwm.modules.users.models import UserStatus
from tests.factories.admin import make_member
from tests.factories.kiosk_network import login


@pytest.fixture
async def probe(
    settings: Settings, client: httpx.AsyncClient
) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    app: FastAPI = create_app(settings)

    @app.get("/probe")
    async def probe_route(member: ActiveMember) -> dict[str, str]:
        return {"id": str(member.user_id), "status": member.status}

    resources: Resources = app.state.resources
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, resources
    finally:
        await resources.close()


async def test_pending_account_is_refused_active_one_passes(
    probe: tuple[httpx.AsyncClient, Resources],
) -> None:
    http, resources = probe
    pending = await make_member(resources, status=UserStatus.PENDING_VERIFICATION)
    active = await make_member(resources)

    refused = await http.get("/probe", headers=await login(http, pending))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"

    allowed = await http.get("/probe", headers=await login(http, active))
    assert allowed.status_code == 200
    assert allowed.json() == {"id": str(active.id), "status": "ACTIVE"}

    assert (await http.get("/probe")).status_code == 401
