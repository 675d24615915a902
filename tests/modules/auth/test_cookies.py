"""The dashboard's session cookie opens the dashboard and nothing else."""

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.deps import SESSION_COOKIE
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.payouts.models import Payout
from iwm.modules.users.service import UserService
from tests.factories.kiosk_network import PASSWORD
from tests.factories.money import (
    API,
    admin,
    commissions_of,
    make_chain,
    make_product,
    paid_order,
    request_payout,
)


async def _partner_and_admin_token(client: httpx.AsyncClient, resources: Resources) -> str:
    """A person who is both a kiosk PARTNER (so has a dashboard cookie) and an ADMIN."""
    async with resources.sessionmaker.begin() as db:
        user = await UserService(db).create(
            f"both-{uuid.uuid4().hex[:8]}@example.com",
            {Role.PARTNER, Role.ADMIN},
            password_hash=resources.passwords.hash(PASSWORD),
        )
    resp = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["token"]
    return token


async def test_a_forged_cross_site_post_with_the_cookie_is_refused(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="500.00", commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (commission,) = await commissions_of(db, order.id)
    approved = await client.post(
        f"{API}/commissions/{commission.id}/adjust",
        json={"action": "APPROVE", "reason": "ok"},
        headers=headers,
    )
    assert approved.status_code == 200, approved.text
    payout = await request_payout(resources, chain.partners[0], "10.00")

    token = await _partner_and_admin_token(client, resources)
    # What a page on another site can make the browser send: the cookie, no body, no token.
    client.cookies.set(SESSION_COOKIE, token)
    try:
        forged = await client.post(
            f"{API}/payouts/{payout.id}/approve", headers={"Origin": "https://evil.example"}
        )
    finally:
        client.cookies.clear()
    assert forged.status_code == 401, forged.text
    assert forged.json()["error"]["code"] == "UNAUTHORIZED"
    await db.rollback()  # a fresh snapshot
    status = (await db.execute(select(Payout.status).where(Payout.id == payout.id))).scalar_one()
    assert status == "PENDING"


async def test_api_surfaces_take_bearer_tokens_only(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    token = await _partner_and_admin_token(client, resources)
    for method, path in (
        ("GET", "/auth/me"),
        ("GET", "/partner/orders/new"),
        ("GET", "/partner/kiosks"),
        ("GET", f"{API}/users"),
        ("POST", f"/kiosk/{uuid.uuid4()}/heartbeat"),
    ):
        client.cookies.set(SESSION_COOKIE, token)
        try:
            resp = await client.request(method, path)
        finally:
            client.cookies.clear()
        assert resp.status_code == 401, (path, resp.status_code, resp.text)
        bearer = await client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        if not path.startswith("/kiosk/"):
            assert bearer.status_code == 200, (path, bearer.text)


async def test_the_dashboard_still_takes_its_cookie(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    token = await _partner_and_admin_token(client, resources)
    client.cookies.set(SESSION_COOKIE, token)
    try:
        page = await client.get("/dashboard")
    finally:
        client.cookies.clear()
    assert page.status_code == 200
    bearer_only = await client.get("/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert bearer_only.status_code == 303  # to the sign-in page: the dashboard is cookie-only
