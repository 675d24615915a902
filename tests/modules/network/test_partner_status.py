"""POST /api/v1/admin/partners/{id}/status and what a status does to the commission engine
(a SUSPENDED or TERMINATED partner earns nothing; his level goes to the next ACTIVE one)."""

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.ledger.service import Shares
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from tests.factories.admin import audit_rows
from tests.factories.kiosk_network import principal_of
from tests.factories.money import (
    API,
    admin,
    balances,
    commissions_of,
    fresh,
    make_chain,
    make_product,
    paid_order,
)


def status_url(partner_id: uuid.UUID | str) -> str:
    return f"{API}/partners/{partner_id}/status"


async def test_super_admin_suspends_terminates_and_reinstates_with_audit(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    boss, headers = await admin(client, resources, Role.SUPER_ADMIN)
    chain = await make_chain(resources, levels=1)
    target = chain.partners[0]

    resp = await client.post(
        status_url(target.id),
        json={"status": "SUSPENDED", "reason": " Chargebacks under review "},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["id"] == str(target.id)
    assert data["status"] == "SUSPENDED"
    assert data["previousStatus"] == "ACTIVE"
    assert data["reason"] == "Chargebacks under review"
    assert data["changedBy"] == "Test Super_Admin"
    assert data["changedAt"].endswith("Z")

    listed = await client.get(f"{API}/partners", params={"status": "SUSPENDED"}, headers=headers)
    assert [p["id"] for p in listed.json()["data"]["partners"]] == [str(target.id)]

    resp = await client.post(
        status_url(target.id), json={"status": "TERMINATED", "reason": "Fraud"}, headers=headers
    )
    assert resp.json()["data"]["previousStatus"] == "SUSPENDED"
    resp = await client.post(
        status_url(target.id), json={"status": "ACTIVE", "reason": "Cleared"}, headers=headers
    )
    assert resp.status_code == 200
    assert resp.json()["data"]["status"] == "ACTIVE"

    rows = await audit_rows(db, "PARTNER_STATUS_CHANGED")
    assert [(r.previous_values, r.new_values) for r in rows] == [
        ({"status": "ACTIVE"}, {"status": "SUSPENDED", "reason": "Chargebacks under review"}),
        ({"status": "SUSPENDED"}, {"status": "TERMINATED", "reason": "Fraud"}),
        ({"status": "TERMINATED"}, {"status": "ACTIVE", "reason": "Cleared"}),
    ]
    assert {(r.admin_id, r.entity_type, r.entity_id) for r in rows} == {
        (boss.id, "partner", str(target.id))
    }


async def test_status_change_refusals_write_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, plain = await admin(client, resources, Role.ADMIN)
    _, boss = await admin(client, resources, Role.SUPER_ADMIN)
    chain = await make_chain(resources, levels=1)
    target = chain.partners[0].id

    cases = [
        (plain, {"status": "SUSPENDED", "reason": "x"}, 403, "FORBIDDEN"),
        (boss, {"status": "ACTIVE", "reason": "x"}, 400, "VALIDATION_ERROR"),  # already
        (boss, {"status": "PAUSED", "reason": "x"}, 400, "VALIDATION_ERROR"),
        (boss, {"status": "SUSPENDED", "reason": "   "}, 400, "VALIDATION_ERROR"),
        (boss, {"status": "SUSPENDED"}, 400, "VALIDATION_ERROR"),
    ]
    for headers, body, code, error in cases:
        resp = await client.post(status_url(target), json=body, headers=headers)
        assert resp.status_code == code, (body, resp.text)
        assert resp.json()["error"]["code"] == error
    resp = await client.post(
        status_url(uuid.uuid4()), json={"status": "SUSPENDED", "reason": "x"}, headers=boss
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "PARTNER_NOT_FOUND"

    assert await audit_rows(db, "PARTNER_STATUS_CHANGED") == []
    await fresh(db)
    partner = await db.get(NetworkPartner, target)
    assert partner is not None
    assert partner.status == "ACTIVE"


async def set_status(resources: Resources, partner: NetworkPartner, status: str) -> None:
    from iwm.modules.network.models import PartnerStatus
    from tests.factories.kiosk_network import make_user

    boss = await make_user(resources, Role.SUPER_ADMIN)
    async with resources.sessionmaker.begin() as db:
        await NetworkService(db, resources.settings).set_status(
            principal_of(boss), partner.id, PartnerStatus(status), "test"
        )


async def test_compression_passes_an_inactive_partners_level_up(
    resources: Resources, db: AsyncSession
) -> None:
    # P0 <- P1 <- P2 <- P3 <- buyer; plan 50/20/10/10/10 % of the volume.
    chain = await make_chain(resources, levels=4)
    p0, p1, p2, p3 = chain.partners
    await set_status(resources, p3, "SUSPENDED")
    await set_status(resources, p1, "TERMINATED")
    product = await make_product(resources, price="100.00", commission="10", points="0")

    order = await paid_order(resources, chain.buyer, product)

    rows = await commissions_of(db, order.id)
    # volume 10.00: P2 is level 1 (50% = 5.00), P0 level 2 (20% = 2.00); nobody else above.
    assert [(r.partner_id, r.level_depth, r.gross_minor) for r in rows] == [
        (p2.id, 1, 500),
        (p0.id, 2, 200),
    ]
    assert await balances(db, p3.id) == Shares()
    assert await balances(db, p1.id) == Shares()

    # Reinstated, P3 earns level 1 again from the next sale.
    await set_status(resources, p3, "ACTIVE")
    order = await paid_order(resources, chain.buyer, product)
    rows = await commissions_of(db, order.id)
    assert [(r.partner_id, r.level_depth) for r in rows] == [
        (p3.id, 1),
        (p2.id, 2),
        (p0.id, 3),
    ]
