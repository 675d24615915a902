"""Closing my account: confirmed by the password (and the second factor when on); personal
data erased, sessions ended, the partner profile terminated; what the ledger and the audit
need stays. A partner with money in the balance is refused."""

from datetime import timedelta

import pyotp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.modules.audit.models import AuditLog
from iwm.modules.auth.models import RecoveryCode, TwoFactorSecret
from iwm.modules.commissions.models import Commission
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from iwm.modules.users.models import User, UserAddress
from tests.factories.accounts import PASSWORD, MemberApp
from tests.factories.money import make_chain, make_product, paid_order

ME = "/api/v1/me"


async def test_close_my_account(app: MemberApp, db: AsyncSession) -> None:
    email, headers = await app.verified_member()
    other = await app.login(email)
    user_id = (await app.http.get(ME, headers=headers)).json()["data"]["id"]
    await app.http.post(f"{ME}/addresses", json={"country": "RU", "city": "Kazan"}, headers=headers)
    async with app.resources.sessionmaker.begin() as session:
        partner = await NetworkService(session, app.resources.settings).enroll(
            (await session.execute(select(User.id).where(User.email == email))).scalar_one()
        )

    wrong = await app.http.request("DELETE", ME, json={"password": "not-it"}, headers=headers)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "INVALID_PASSWORD"
    assert (await app.http.request("DELETE", ME, json={})).status_code == 401

    closed = await app.http.request("DELETE", ME, json={"password": PASSWORD}, headers=headers)
    assert closed.status_code == 200, closed.text
    data = closed.json()["data"]
    assert data["id"] == user_id
    assert data["status"] == "SUSPENDED"
    assert data["closedAt"].endswith("Z")
    assert data["sessionsRevoked"] == 2
    for session_headers in (headers, other):
        assert (await app.http.get(ME, headers=session_headers)).status_code == 401
    refused = await app.http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 401

    await db.rollback()
    user = await db.get(User, partner.user_id)
    assert user is not None
    assert user.email != email
    assert (user.first_name, user.last_name, user.phone, user.password_hash) == ("", "", None, None)
    assert user.closed_at is not None
    assert await db.scalar(select(func.count()).select_from(UserAddress)) == 0
    kept = await db.get(NetworkPartner, partner.id)
    assert kept is not None
    assert kept.status == "TERMINATED"
    assert kept.referral_code == partner.referral_code
    actions = set((await db.execute(select(AuditLog.action))).scalars())
    assert {"ACCOUNT_CLOSED", "PARTNER_STATUS_CHANGED"} <= actions

    # The address is free for a new account.
    assert (await app.register(email)).status_code == 201


async def test_two_factor_is_asked_and_forgotten(app: MemberApp, db: AsyncSession) -> None:
    _, headers = await app.verified_member()
    secret = (await app.http.post("/auth/2fa/setup", headers=headers)).json()["secret"]
    code = pyotp.TOTP(secret).at(clock.now())
    assert (
        await app.http.post("/auth/2fa/enable", json={"code": code}, headers=headers)
    ).status_code == 200

    missing = await app.http.request("DELETE", ME, json={"password": PASSWORD}, headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "INVALID_TWO_FACTOR_CODE"
    clock.travel(timedelta(seconds=30))
    fresh_code = pyotp.TOTP(secret).at(clock.now())
    closed = await app.http.request(
        "DELETE", ME, json={"password": PASSWORD, "code": fresh_code}, headers=headers
    )
    assert closed.status_code == 200, closed.text
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(TwoFactorSecret)) == 0
    assert await db.scalar(select(func.count()).select_from(RecoveryCode)) == 0


async def test_a_partner_with_a_balance_is_refused(app: MemberApp, db: AsyncSession) -> None:
    chain = await make_chain(app.resources, levels=1)
    await paid_order(app.resources, chain.buyer, await make_product(app.resources))
    sponsor = chain.users[0]
    headers = await app.login(sponsor.email)

    refused = await app.http.request("DELETE", ME, json={"password": PASSWORD}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "ACCOUNT_HAS_FUNDS"
    assert (await app.http.get(ME, headers=headers)).status_code == 200
    await db.rollback()
    assert (await db.get(User, sponsor.id)).closed_at is None  # type: ignore[union-attr]
    commissions = await db.scalar(
        select(func.count())
        .select_from(Commission)
        .where(Commission.partner_id == chain.partners[0].id)
    )
    assert commissions == 1
