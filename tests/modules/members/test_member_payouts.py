"""Payout requests by members (/api/v1/me/payouts): the reserve, the masked account, the
refusals, idempotent retries, cancelling, and the admin endpoints of seed 004 acting on
exactly these requests."""

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.payouts.models import Payout
from iwm.modules.users.models import UserStatus
from tests.factories.admin import admin_headers, enroll
from tests.factories.members import ME, bank, earner, signed_in
from tests.factories.money import balances, fresh, ledger_sums

PAYOUTS = f"{ME}/payouts"
ADMIN = "/api/v1/admin/payouts"
IBAN = "DE89370400440532013000"


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with a fresh Idempotency-Key: one attempt of a new request."""
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


async def test_request_reserves_at_once_keeps_only_the_masked_account_and_admins_pay_it(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    e = await earner(client, resources, "300.00")
    _, first_admin = await admin_headers(client, resources)
    _, second_admin = await admin_headers(client, resources)

    resp = await client.post(PAYOUTS, json=bank(120.50), headers=keyed(e.headers))

    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    assert (data["status"], data["amount"], data["currency"]) == ("PENDING", 120.5, "USD")
    assert data["method"] == {"type": "BANK_TRANSFER", "maskedDetails": "****3000"}
    assert IBAN not in resp.text
    row = await (await fresh(db)).get(Payout, uuid.UUID(data["id"]))
    assert row is not None
    assert row.masked_details == "****3000"
    [audit] = await db.scalars(select(AuditLog).where(AuditLog.action == "PAYOUT_REQUESTED"))
    assert (audit.admin_id, audit.entity_id) == (e.user.id, data["id"])
    assert IBAN not in str(audit.new_values)
    [entry] = await db.scalars(select(LedgerEntry).where(LedgerEntry.payout_id == row.id))
    assert (entry.kind, entry.available_delta) == ("PAYOUT_REQUESTED", -12050)
    balance = (await client.get(f"{ME}/balance", headers=e.headers)).json()["data"]
    assert (balance["available"], balance["totalWithdrawn"]) == (179.5, 0.0)

    listed = await client.get(ADMIN, params={"partnerId": str(e.partner.id)}, headers=first_admin)
    assert [p["id"] for p in listed.json()["data"]["payouts"]] == [data["id"]]
    approved = await client.post(f"{ADMIN}/{data['id']}/approve", headers=first_admin)
    assert approved.status_code == 200, approved.text
    processed = await client.post(f"{ADMIN}/{data['id']}/process", headers=second_admin)
    assert processed.status_code == 200, processed.text

    mine = (await client.get(f"{PAYOUTS}/{data['id']}", headers=e.headers)).json()["data"]
    assert mine["status"] == processed.json()["data"]["status"] == "COMPLETED"
    assert mine["completedAt"] is not None
    balance = (await client.get(f"{ME}/balance", headers=e.headers)).json()["data"]
    assert (balance["available"], balance["totalWithdrawn"]) == (179.5, 120.5)
    assert await balances(db, e.partner.id) == await ledger_sums(db, e.partner.id)


async def test_card_number_is_masked(client: httpx.AsyncClient, resources: Resources) -> None:
    e = await earner(client, resources, "50.00")
    body = {
        "amount": 20,
        "method": {
            "type": "CARD",
            "details": {"cardNumber": "4111 1111 1111 1111", "cardHolder": "Olga Top"},
        },
    }

    resp = await client.post(PAYOUTS, json=body, headers=keyed(e.headers))

    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["method"] == {"type": "CARD", "maskedDetails": "****1111"}
    assert "4111111111111111" not in resp.text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (bank(0.99), 400, "BELOW_MINIMUM"),
        (bank(100.01), 400, "INSUFFICIENT_BALANCE"),
        (bank(10, iban="DE89370400440532013001"), 400, "VALIDATION_ERROR"),
        (bank("10"), 400, "VALIDATION_ERROR"),
        (bank(10.001), 400, "VALIDATION_ERROR"),
        ({"amount": 10, "method": {"type": "CRYPTO", "details": {}}}, 400, "VALIDATION_ERROR"),
        (
            {
                "amount": 10,
                "method": {
                    "type": "CARD",
                    "details": {"cardNumber": "4111 1111 1111 1112", "cardHolder": "X"},
                },
            },
            400,
            "VALIDATION_ERROR",
        ),
        (
            {"amount": 10, "method": {"type": "BANK_TRANSFER", "details": {"iban": IBAN}}},
            400,
            "VALIDATION_ERROR",
        ),
    ],
)
async def test_refusals_reserve_nothing(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    e = await earner(client, resources, "100.00")

    resp = await client.post(PAYOUTS, json=body, headers=keyed(e.headers))

    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    assert (await balances(db, e.partner.id)).available == 10000
    assert (await db.scalar(select(Payout.id))) is None


async def test_kyc_and_a_verified_account_are_required(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    no_kyc = await earner(client, resources, "100.00", kyc=False)
    unverified, unverified_headers = await signed_in(
        client, resources, status=UserStatus.PENDING_VERIFICATION
    )
    await enroll(resources, unverified)
    _, stranger_headers = await signed_in(client, resources)

    kyc = await client.post(PAYOUTS, json=bank(10), headers=keyed(no_kyc.headers))
    email = await client.post(PAYOUTS, json=bank(10), headers=keyed(unverified_headers))
    not_partner = await client.post(PAYOUTS, json=bank(10), headers=keyed(stranger_headers))

    assert kyc.status_code == 403
    assert kyc.json()["error"]["code"] == "KYC_REQUIRED"
    assert email.status_code == 403
    assert email.json()["error"]["code"] == "EMAIL_NOT_VERIFIED"
    assert not_partner.status_code == 404
    assert not_partner.json()["error"]["code"] == "PARTNER_NOT_FOUND"
    assert (await db.scalar(select(Payout.id))) is None


async def test_a_retry_with_the_same_key_replays_the_first_answer(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    e = await earner(client, resources, "100.00")
    headers = {**e.headers, "Idempotency-Key": "payout-attempt-1"}

    first = await client.post(PAYOUTS, json=bank(30), headers=headers)
    retry = await client.post(PAYOUTS, json=bank(30), headers=headers)
    other = await client.post(PAYOUTS, json=bank(31), headers=headers)
    fresh_key = await client.post(
        PAYOUTS, json=bank(30), headers={**e.headers, "Idempotency-Key": "payout-attempt-2"}
    )

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert fresh_key.status_code == 201
    assert fresh_key.json()["data"]["id"] != first.json()["data"]["id"]
    assert (await balances(db, e.partner.id)).available == 4000


async def test_cancel_while_pending_returns_the_funds(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    e = await earner(client, resources, "100.00")
    _, admin = await admin_headers(client, resources)
    pending = (await client.post(PAYOUTS, json=bank(40), headers=keyed(e.headers))).json()["data"]
    approved = (await client.post(PAYOUTS, json=bank(10), headers=keyed(e.headers))).json()["data"]
    await client.post(f"{ADMIN}/{approved['id']}/approve", headers=admin)

    cancelled = await client.post(f"{PAYOUTS}/{pending['id']}/cancel", headers=e.headers)
    twice = await client.post(f"{PAYOUTS}/{pending['id']}/cancel", headers=e.headers)
    too_late = await client.post(f"{PAYOUTS}/{approved['id']}/cancel", headers=e.headers)

    assert cancelled.status_code == 200, cancelled.text
    answer = cancelled.json()["data"]
    assert (answer["status"], answer["fundsReturned"], answer["amountReturned"]) == (
        "CANCELLED",
        True,
        40.0,
    )
    assert (pending["fundsReturned"], pending["amountReturned"]) == (None, None)
    detail = (await client.get(f"{PAYOUTS}/{pending['id']}", headers=e.headers)).json()["data"]
    assert (detail["fundsReturned"], detail["amountReturned"]) == (True, 40.0)
    row = await (await fresh(db)).get(Payout, uuid.UUID(pending["id"]))
    assert row is not None
    assert row.funds_returned is True
    assert twice.status_code == too_late.status_code == 400
    assert twice.json()["error"]["code"] == too_late.json()["error"]["code"] == "NOT_PENDING"
    assert (await balances(db, e.partner.id)).available == 9000
    assert await balances(db, e.partner.id) == await ledger_sums(db, e.partner.id)
    [audit] = await db.scalars(select(AuditLog).where(AuditLog.action == "PAYOUT_CANCELLED"))
    assert audit.admin_id == e.user.id
    admin_view = await client.get(f"{ADMIN}/{pending['id']}", headers=admin)
    assert admin_view.json()["data"]["status"] == "CANCELLED"
    listed = await client.get(PAYOUTS, headers=e.headers)
    assert [p["id"] for p in listed.json()["data"]] == [approved["id"], pending["id"]]
    only = await client.get(PAYOUTS, params={"status": "CANCELLED"}, headers=e.headers)
    assert [p["id"] for p in only.json()["data"]] == [pending["id"]]
    assert only.json()["meta"]["pagination"]["total"] == 1


async def test_rejection_with_return_shows_to_the_member(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    e = await earner(client, resources, "100.00")
    _, admin = await admin_headers(client, resources)
    payout = (await client.post(PAYOUTS, json=bank(25), headers=keyed(e.headers))).json()["data"]

    await client.post(
        f"{ADMIN}/{payout['id']}/reject",
        json={"reason": "Holder name mismatch", "returnToBalance": True},
        headers=admin,
    )

    mine = (await client.get(f"{PAYOUTS}/{payout['id']}", headers=e.headers)).json()["data"]
    assert (mine["status"], mine["rejectionReason"], mine["fundsReturned"]) == (
        "REJECTED",
        "Holder name mismatch",
        True,
    )
    assert mine["amountReturned"] == 25.0
    assert (await balances(db, e.partner.id)).available == 10000


async def test_rejection_without_return_shows_nothing_returned(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    e = await earner(client, resources, "100.00")
    _, admin = await admin_headers(client, resources)
    payout = (await client.post(PAYOUTS, json=bank(25), headers=keyed(e.headers))).json()["data"]

    rejected = await client.post(
        f"{ADMIN}/{payout['id']}/reject",
        json={"reason": "Fraud suspected", "returnToBalance": False},
        headers=admin,
    )

    assert rejected.status_code == 200, rejected.text
    mine = (await client.get(f"{PAYOUTS}/{payout['id']}", headers=e.headers)).json()["data"]
    assert (mine["status"], mine["fundsReturned"], mine["amountReturned"]) == (
        "REJECTED",
        False,
        0.0,
    )
    assert (await balances(db, e.partner.id)).available == 7500


@pytest.mark.parametrize(
    ("key", "body"),
    [
        (None, bank(10)),
        ("", bank(10)),
        ("k" * 129, bank(10)),
        (None, {"method": bank(10)["method"]}),
    ],
)
async def test_the_idempotency_key_is_required(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    key: str | None,
    body: dict[str, object],
) -> None:
    e = await earner(client, resources, "100.00")
    headers = e.headers if key is None else {**e.headers, "Idempotency-Key": key}

    resp = await client.post(PAYOUTS, json=body, headers=headers)

    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "Idempotency-Key" in error["details"]
    if "amount" not in body:  # every problem is named at once
        assert "amount" in error["details"]
    assert (await balances(db, e.partner.id)).available == 10000
    assert (await db.scalar(select(Payout.id))) is None


async def test_another_members_payout_is_404(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    owner = await earner(client, resources, "100.00")
    other = await earner(client, resources, "100.00")
    payout = (await client.post(PAYOUTS, json=bank(25), headers=keyed(owner.headers))).json()[
        "data"
    ]

    seen = await client.get(f"{PAYOUTS}/{payout['id']}", headers=other.headers)
    cancel = await client.post(f"{PAYOUTS}/{payout['id']}/cancel", headers=other.headers)
    listed = await client.get(PAYOUTS, headers=other.headers)
    unknown = await client.get(f"{PAYOUTS}/{uuid.uuid4()}", headers=owner.headers)

    assert seen.status_code == cancel.status_code == unknown.status_code == 404
    assert seen.json()["error"]["code"] == "PAYOUT_NOT_FOUND"
    assert listed.json()["data"] == []
    row = await (await fresh(db)).get(Payout, uuid.UUID(payout["id"]))
    assert row is not None
    assert row.status == "PENDING"


async def test_twenty_requests_at_once_reserve_exactly_what_the_balance_covers(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    e = await earner(client, resources, "100.00")

    answers = await asyncio.gather(
        *(client.post(PAYOUTS, json=bank(20), headers=keyed(e.headers)) for _ in range(20))
    )

    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 5 + [400] * 15
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 400} == {
        "INSUFFICIENT_BALANCE"
    }
    await fresh(db)
    assert len(list(await db.scalars(select(Payout.id)))) == 5
    assert (await balances(db, e.partner.id)).available == 0
    assert await balances(db, e.partner.id) == await ledger_sums(db, e.partner.id)


async def test_one_key_ten_times_at_once_makes_one_request(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    e = await earner(client, resources, "100.00")
    headers = {**e.headers, "Idempotency-Key": "same-attempt"}

    answers = await asyncio.gather(
        *(client.post(PAYOUTS, json=bank(20), headers=headers) for _ in range(10))
    )

    assert [r.status_code for r in answers] == [201] * 10
    assert len({r.json()["data"]["id"] for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 9
    await fresh(db)
    assert len(list(await db.scalars(select(Payout.id)))) == 1
    assert (await balances(db, e.partner.id)).available == 8000


async def test_the_documentation_says_the_key_is_required(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    parameters = spec["paths"][PAYOUTS]["post"]["parameters"]
    [key] = [p for p in parameters if p["name"] == "Idempotency-Key"]
    assert (key["in"], key["required"]) == ("header", True)
    schema = spec["components"]["schemas"]["MemberPayout"]["properties"]
    assert {"fundsReturned", "amountReturned"} <= set(schema)
