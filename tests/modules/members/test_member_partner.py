"""The partner programme as a member lives it: joining, the downline without anyone's
contact data, his commissions and his balance, equal to what the admin API shows."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.users.models import UserStatus
from tests.factories.admin import admin_headers, enroll
from tests.factories.kiosk_network import login
from tests.factories.members import ME, signed_in
from tests.factories.money import commissions_of, make_chain, make_product, paid_order

ADMIN = "/api/v1/admin"


async def test_join_gives_a_referral_code_and_link(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    member, headers = await signed_in(client, resources)
    _, admin = await admin_headers(client, resources)
    before = await client.get(f"{ME}/partner", headers=headers)

    joined = await client.post(f"{ME}/partner", headers=headers)
    again = await client.post(f"{ME}/partner", headers=headers)

    assert before.status_code == 404
    assert before.json()["error"]["code"] == "PARTNER_NOT_FOUND"
    assert joined.status_code == 201, joined.text
    data = joined.json()["data"]
    code = data["referralCode"]
    assert len(code) == 8
    assert data["referralLink"] == f"{resources.settings.public_base_url}/register?ref={code}"
    assert (data["sponsor"], data["rank"], data["status"]) == (None, None, "ACTIVE")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ALREADY_PARTNER"
    mine = (await client.get(f"{ME}/partner", headers=headers)).json()["data"]
    assert mine == data
    listed = await client.get(f"{ADMIN}/partners", params={"search": code}, headers=admin)
    [partner] = listed.json()["data"]["partners"]
    assert (partner["id"], partner["user"]["id"]) == (data["id"], str(member.id))


async def test_an_unverified_account_cannot_join(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await signed_in(client, resources, status=UserStatus.PENDING_VERIFICATION)

    resp = await client.post(f"{ME}/partner", headers=headers)

    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"


async def test_downline_shows_names_and_levels_never_contact_data(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    top, headers = await signed_in(client, resources, "Olga", "Top")
    _, admin = await admin_headers(client, resources)
    top_partner = await enroll(resources, top)
    b, _ = await signed_in(client, resources, "Boris", "Second", phone="+79990001122")
    b_partner = await enroll(resources, b, top_partner)
    c, _ = await signed_in(client, resources, "Clara", "Third", phone="+79990003344")
    await enroll(resources, c, b_partner)

    resp = await client.get(f"{ME}/network", params={"depth": 10}, headers=headers)
    shallow = await client.get(f"{ME}/network", params={"depth": 1}, headers=headers)
    too_deep = await client.get(f"{ME}/network", params={"depth": 11}, headers=headers)

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert [(n["name"], n["level"]) for n in data["network"]] == [
        ("Boris Second", 1),
        ("Clara Third", 2),
    ]
    assert set(data["network"][0]) == {
        "id",
        "name",
        "level",
        "status",
        "rank",
        "directReferrals",
        "personalVolume",
        "joinedAt",
    }
    for secret in (b.email, c.email, "+79990001122", "+79990003344", "email", "phone"):
        assert secret not in resp.text
    assert data["stats"]["totalSize"] == 2
    assert resp.json()["meta"]["pagination"]["total"] == 2
    assert [n["name"] for n in shallow.json()["data"]["network"]] == ["Boris Second"]
    assert too_deep.status_code == 400
    admin_view = await client.get(f"{ADMIN}/partners/{top_partner.id}/network", headers=admin)
    assert [n["id"] for n in admin_view.json()["data"]["network"]] == [
        n["id"] for n in data["network"]
    ]


async def test_reads_before_joining_are_404(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await signed_in(client, resources)
    for path in ("/network", "/commissions", "/balance"):
        resp = await client.get(f"{ME}{path}", headers=headers)
        assert resp.status_code == 404, path
        assert resp.json()["error"]["code"] == "PARTNER_NOT_FOUND"
        assert (await client.get(f"{ME}{path}")).status_code == 401


async def test_my_commissions_and_balance_match_the_admin_views(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    _, admin = await admin_headers(client, resources)
    product = await make_product(resources, price="100.00", commission="10")
    first = await paid_order(resources, chain.buyer, product)
    await paid_order(resources, chain.buyer, product, quantity=3)
    mine = [c for c in await commissions_of(db, first.id) if c.partner_id == chain.partners[1].id]
    approve = await client.post(
        f"{ADMIN}/commissions/{mine[0].id}/adjust",
        json={"action": "APPROVE", "reason": "checked"},
        headers=admin,
    )
    assert approve.status_code == 200, approve.text
    headers = await login(client, chain.users[1])
    partner_id = str(chain.partners[1].id)

    resp = await client.get(f"{ME}/commissions", headers=headers)
    pending = await client.get(f"{ME}/commissions", params={"status": "PENDING"}, headers=headers)
    admin_list = await client.get(
        f"{ADMIN}/commissions", params={"partnerId": partner_id}, headers=admin
    )
    balance = await client.get(f"{ME}/balance", headers=headers)
    detail = await client.get(f"{ADMIN}/partners/{partner_id}", headers=admin)

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert [c["id"] for c in data["commissions"]] == [
        c["id"] for c in admin_list.json()["data"]["commissions"]
    ]
    assert len(data["commissions"]) == 2
    assert data["summary"] == admin_list.json()["data"]["summary"]
    assert data["summary"]["totalApproved"] == 5.0
    assert data["summary"]["totalPending"] == 15.0
    assert {c["sourcePartner"]["name"] for c in data["commissions"]} == {"P2 Test"}
    assert chain.buyer.email not in resp.text
    assert [c["status"] for c in pending.json()["data"]["commissions"]] == ["PENDING"]
    assert pending.json()["data"]["summary"] == data["summary"]
    assert balance.status_code == 200
    figures = detail.json()["data"]["balance"]
    assert balance.json()["data"] == {
        "available": figures["available"],
        "pending": figures["pending"],
        "totalEarned": figures["totalEarned"],
        "totalWithdrawn": figures["totalWithdrawn"],
        "currency": figures["currency"],
    }
    assert balance.json()["data"]["available"] == 5.0


@pytest.mark.parametrize("params", [{"status": "LOST"}, {"sortBy": "partner"}, {"minAmount": "x"}])
async def test_commission_filters_are_validated(
    client: httpx.AsyncClient, resources: Resources, params: dict[str, str]
) -> None:
    user, headers = await signed_in(client, resources)
    await enroll(resources, user)

    resp = await client.get(f"{ME}/commissions", params=params, headers=headers)

    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
