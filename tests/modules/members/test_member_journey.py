"""A member's whole way through HTTP, on both configurations: sign up under a sponsor's
referral code, verify by the link the mail carries (the outbox in the embedded default,
a real SMTP server on loopback in production), submit KYC, approved by an admin, join
the programme (the sponsor and the admin see the new partner), earn, ask to be paid,
approved and processed by admins: the balance and the ledger agree."""

import re
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import SecretUrl, Settings
from iwm.core.mail import OutboxMail
from iwm.core.resources import Resources
from iwm.main import create_app
from iwm.modules.commissions.models import Commission
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.network.models import NetworkPartner
from tests.factories.admin import admin_headers, enroll, make_member
from tests.factories.kiosk_network import PASSWORD, login
from tests.factories.members import ME, bank, kyc_form
from tests.factories.money import balances, fresh, ledger_sums, make_product, paid_order
from tests.support import Profile, free_port

TOKEN = re.compile(r"verify-email\?token=([A-Za-z0-9_\-]+)")


class _Inbox:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        payload = message.get_payload(decode=True) if not message.is_multipart() else None
        if payload is None:
            payload = message.get_payload(0).get_payload(decode=True)  # type: ignore[union-attr]
        self.bodies.append(payload.decode())  # type: ignore[union-attr]
        return "250 Message accepted for delivery"


@pytest.fixture
async def journey(
    settings: Settings, profile: Profile, client: httpx.AsyncClient
) -> AsyncIterator[tuple[httpx.AsyncClient, Resources, _Inbox | None]]:
    """The app; in production mode its mail goes to an SMTP server on loopback."""
    inbox, controller = None, None
    if profile.is_production:
        inbox = _Inbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        settings = settings.model_copy(update={"smtp_url": SecretUrl(f"smtp://127.0.0.1:{port}")})
    app = create_app(settings)
    resources: Resources = app.state.resources
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, resources, inbox
    finally:
        await resources.close()
        if controller is not None:
            controller.stop()


async def _verification_token(db: AsyncSession, inbox: _Inbox | None, email: str) -> str:
    if inbox is not None:
        bodies = inbox.bodies
    else:
        await fresh(db)
        bodies = list(
            await db.scalars(select(OutboxMail.body).where(OutboxMail.recipient == email))
        )
    found = [m.group(1) for body in bodies if (m := TOKEN.search(body))]
    assert found, bodies
    return found[-1]


async def test_sign_up_to_payout(
    journey: tuple[httpx.AsyncClient, Resources, _Inbox | None], db: AsyncSession
) -> None:
    http, resources, inbox = journey
    sponsor_user = await make_member(resources, first_name="Olga", last_name="Sponsor")
    sponsor = await enroll(resources, sponsor_user)
    sponsor_headers = await login(http, sponsor_user)
    _, admin = await admin_headers(http, resources)
    _, second_admin = await admin_headers(http, resources)
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"

    headers = await _sign_up(http, db, inbox, email, sponsor.referral_code)

    data, files = kyc_form()
    submitted = await http.post(f"{ME}/kyc", data=data, files=files, headers=headers)
    assert submitted.status_code == 201, submitted.text
    kyc_id = submitted.json()["data"]["id"]
    approved = await http.post(
        f"/api/v1/admin/kyc/{kyc_id}/approve", json={"level": "STANDARD"}, headers=admin
    )
    assert approved.status_code == 200, approved.text

    joined = await http.post(f"{ME}/partner", headers=headers)
    assert joined.status_code == 201, joined.text
    partner = joined.json()["data"]
    assert partner["sponsor"]["referralCode"] == sponsor.referral_code
    downline = await http.get(f"{ME}/network", headers=sponsor_headers)
    assert [(n["id"], n["name"], n["level"]) for n in downline.json()["data"]["network"]] == [
        (partner["id"], "Nina Newcomer", 1)
    ]
    admin_network = await http.get(f"/api/v1/admin/partners/{sponsor.id}/network", headers=admin)
    assert [n["email"] for n in admin_network.json()["data"]["network"]] == [email]

    await _earn(http, resources, db, admin, uuid.UUID(partner["id"]))

    requested = await http.post(
        f"{ME}/payouts", json=bank(20), headers={**headers, "Idempotency-Key": "first-payout"}
    )
    assert requested.status_code == 201, requested.text
    payout_id = requested.json()["data"]["id"]
    assert (
        await http.post(f"/api/v1/admin/payouts/{payout_id}/approve", headers=admin)
    ).status_code == 200
    processed = await http.post(f"/api/v1/admin/payouts/{payout_id}/process", headers=second_admin)
    assert processed.status_code == 200, processed.text
    assert processed.json()["data"]["status"] == "COMPLETED"

    balance = (await http.get(f"{ME}/balance", headers=headers)).json()["data"]
    assert balance == {
        "available": 0.0,
        "pending": 0.0,
        "totalEarned": 20.0,
        "totalWithdrawn": 20.0,
        "currency": resources.settings.currency,
    }
    partner_id = uuid.UUID(partner["id"])
    assert await balances(db, partner_id) == await ledger_sums(db, partner_id)
    kinds = list(
        await db.scalars(
            select(LedgerEntry.kind)
            .where(LedgerEntry.payout_id == uuid.UUID(payout_id))
            .order_by(LedgerEntry.created_at)
        )
    )
    assert kinds[0] == "PAYOUT_REQUESTED"
    assert kinds[-1] == "PAYOUT_COMPLETED"
    mine = (await http.get(f"{ME}/commissions", headers=headers)).json()["data"]
    assert [c["status"] for c in mine["commissions"]] == ["PAID"]


async def _sign_up(
    http: httpx.AsyncClient, db: AsyncSession, inbox: _Inbox | None, email: str, code: str
) -> dict[str, str]:
    """Signs up under `code`, verifies by the mailed link and signs in."""
    signed_up = await http.post(
        "/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "firstName": "Nina",
            "lastName": "Newcomer",
            "referralCode": code,
        },
    )
    assert signed_up.status_code == 201, signed_up.text
    assert signed_up.json()["user"]["status"] == "PENDING_VERIFICATION"
    token = await _verification_token(db, inbox, email)
    verified = await http.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["status"] == "ACTIVE"
    login_resp = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login_resp.json()['token']}"}

    return headers


async def _earn(
    http: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    admin: dict[str, str],
    partner_id: uuid.UUID,
) -> None:
    """A buyer under the partner pays an order: 50 % of 10 % of 400.00 is hers, approved."""
    buyer = await make_member(resources, first_name="Bob", last_name="Buyer")
    await enroll(resources, buyer, await _partner(db, partner_id))
    product = await make_product(resources, price="400.00", commission="10")
    order = await paid_order(resources, buyer, product)
    await fresh(db)
    [commission] = await db.scalars(
        select(Commission).where(
            Commission.source_id == order.id,
            Commission.partner_id == partner_id,
        )
    )
    adjusted = await http.post(
        f"/api/v1/admin/commissions/{commission.id}/adjust",
        json={"action": "APPROVE", "reason": "Sale confirmed"},
        headers=admin,
    )
    assert adjusted.status_code == 200, adjusted.text


async def _partner(db: AsyncSession, partner_id: uuid.UUID) -> NetworkPartner | None:
    await fresh(db)
    return await db.get(NetworkPartner, partner_id)
