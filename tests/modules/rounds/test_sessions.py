"""Kiosk rounds paid online, end to end as the kiosk, the customer and the partner."""

import asyncio
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.activity.models import ActivityLog
from iwm.modules.payments.models import Payment
from iwm.modules.payments.provider import make_provider
from iwm.modules.rounds.models import KioskSession
from iwm.modules.rounds.service import RoundService
from tests.factories.kiosk_network import login, make_world
from tests.factories.payments import WEBHOOK, deliver
from tests.factories.rounds import open_session, pay, set_price


async def _events(db: AsyncSession, kiosk_id: uuid.UUID) -> list[str]:
    await db.rollback()
    rows = await db.execute(
        select(ActivityLog.event)
        .where(ActivityLog.kiosk_id == kiosk_id)
        .order_by(ActivityLog.created_at, ActivityLog.id)
    )
    return list(rows.scalars())


async def _refund_job(resources: Resources) -> int:
    provider = make_provider(resources.settings, resources.payment_webhook_secret)
    return await RoundService.refund_unstarted(resources.sessionmaker, resources.settings, provider)


async def test_open_pay_poll_start_revenue(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    priced = (await set_price(client, partner, kiosk, 2.5, "EUR")).json()
    assert priced["settings"]["pricePerRound"] == 2.5
    assert priced["settings"]["currency"] == "EUR"
    own = (await client.get(f"/kiosk/{kiosk.id}", headers=kiosk.headers)).json()
    assert own["settings"]["pricePerRound"] == 2.5
    listed = (await client.get("/partner/kiosks", headers=partner)).json()
    assert listed[0]["settings"] == priced["settings"]
    assert '"pricePerRound":2.5,' in (await client.get("/partner/kiosks", headers=partner)).text

    opened = await open_session(client, kiosk)
    assert opened["status"] == "pending"
    assert opened["amount"] == 2.5
    assert opened["currency"] == "EUR"
    assert str(opened["paymentUrl"]).endswith("/pay/" + str(opened["paymentUrl"]).rsplit("/")[-1])
    assert opened["expiresAt"]
    poll_url = f"/kiosk/{kiosk.id}/sessions/{opened['id']}"
    assert (await client.get(poll_url, headers=kiosk.headers)).json()["status"] == "pending"
    early = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "SESSION_NOT_PAID"

    poll = asyncio.create_task(client.get(poll_url, params={"wait": 20}, headers=kiosk.headers))
    await asyncio.sleep(0.3)
    assert not poll.done()  # the poll waits while the session is pending
    await pay(client, str(opened["paymentUrl"]))
    paid_at = time.monotonic()
    answer = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - paid_at < 1.0
    assert answer.json()["status"] == "paid"

    started = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "started"
    assert started.json()["startedAt"]
    again = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "SESSION_ALREADY_STARTED"
    assert (await client.get(poll_url, headers=kiosk.headers)).json()["status"] == "started"

    revenue = (await client.get(f"/partner/kiosks/{kiosk.id}/revenue", headers=partner)).json()
    assert revenue["online"] == {"rounds": 1, "amount": 2.5}
    assert revenue["cash"] == {"rounds": 0, "amount": 0}
    assert revenue["currency"] == "EUR"
    today = [d for d in revenue["days"] if d["online"]["rounds"]]
    assert len(today) == 1
    assert today[0]["date"] == clock.now().date().isoformat()
    events = await _events(db, kiosk.id)
    assert events == ["KIOSK_PRICE_SET", "KIOSK_SESSION_PAID", "KIOSK_ROUND_STARTED"]


async def test_a_waiting_poll_holds_no_database_connection(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk)
    opened = await open_session(client, kiosk)
    polls = [
        asyncio.create_task(
            client.get(
                f"/kiosk/{kiosk.id}/sessions/{opened['id']}",
                params={"wait": 3},
                headers=kiosk.headers,
            )
        )
        for _ in range(5)
    ]
    await asyncio.sleep(0.5)
    assert not any(p.done() for p in polls)
    assert resources.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    answers = await asyncio.gather(*polls)
    assert {a.json()["status"] for a in answers} == {"pending"}


async def test_price_is_required_and_checked(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    none = await client.post(f"/kiosk/{kiosk.id}/sessions", headers=kiosk.headers)
    assert none.status_code == 409
    assert none.json()["error"]["code"] == "PRICE_NOT_SET"
    partner = await login(client, world.partner)
    for body in (
        {"amount": 0, "currency": "EUR"},
        {"amount": 2, "currency": "eur"},
        {"amount": "2", "currency": "EUR"},
        {"amount": 2.555, "currency": "EUR"},
        {"amount": 2, "currency": "ZZZ"},  # the shape of a code, but no currency
        {"amount": 1_000_000_000_000, "currency": "EUR"},
    ):
        bad = await client.post(f"/partner/kiosks/{kiosk.id}/price", json=body, headers=partner)
        assert bad.status_code == 400, body
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_expiry_and_a_payment_after_it(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk)
    opened = await open_session(client, kiosk)
    poll_url = f"/kiosk/{kiosk.id}/sessions/{opened['id']}"
    clock.travel(timedelta(seconds=resources.settings.kiosk_session_ttl_seconds + 1))
    assert (await client.get(poll_url, headers=kiosk.headers)).json()["status"] == "expired"
    late = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "SESSION_EXPIRED"
    # The page left open takes no money any more...
    page = await client.get(urlsplit(str(opened["paymentUrl"])).path)
    assert "expired" in page.text
    assert 'id="pay"' not in page.text
    refused = await client.post(urlsplit(str(opened["paymentUrl"])).path, data={"action": "pay"})
    assert refused.status_code == 303
    await db.rollback()
    assert (await db.execute(select(Payment.status))).scalar_one() == "pending"
    # ...but a provider may still report a late success: the money goes back.
    await db.rollback()
    payment = (await db.execute(select(Payment))).scalar_one()
    assert (await deliver(client, resources, "payment.succeeded", payment)).status_code == 200
    late_view = (await client.get(poll_url, headers=kiosk.headers)).json()
    assert late_view["status"] == "refunded"
    assert late_view["paidAt"] is not None  # the money did arrive, and when is on record
    await _refund_job(resources)
    await db.rollback()
    payment = (await db.execute(select(Payment))).scalar_one()
    assert payment.status == "refunded"
    after = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert after.json()["error"]["code"] == "SESSION_EXPIRED"


async def test_paid_but_never_started_is_refunded(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    await set_price(client, partner, kiosk)
    opened = await open_session(client, kiosk)
    poll_url = f"/kiosk/{kiosk.id}/sessions/{opened['id']}"
    await pay(client, str(opened["paymentUrl"]))
    assert await _refund_job(resources) == 0  # within the start window: kept
    clock.travel(timedelta(seconds=resources.settings.kiosk_start_window_seconds + 1))
    # The poll tells the kiosk what the start would: the round can no longer start.
    assert (await client.get(poll_url, headers=kiosk.headers)).json()["status"] == "expired"
    too_late = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert too_late.status_code == 409
    assert too_late.json()["error"]["code"] == "SESSION_EXPIRED"
    assert await _refund_job(resources) == 1
    assert await _refund_job(resources) == 0
    assert (await client.get(poll_url, headers=kiosk.headers)).json()["status"] == "refunded"
    await db.rollback()
    assert (await db.execute(select(Payment.status))).scalar_one() == "refunded"
    assert "KIOSK_SESSION_REFUNDED" in await _events(db, kiosk.id)
    revenue = (await client.get(f"/partner/kiosks/{kiosk.id}/revenue", headers=partner)).json()
    assert revenue["online"] == {"rounds": 0, "amount": 0}


async def test_forged_webhook_leaves_the_session_pending(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk)
    opened = await open_session(client, kiosk)
    await db.rollback()
    payment = (await db.execute(select(Payment))).scalar_one()
    body = (
        b'{"id":"evt_forged","type":"payment.succeeded","created":%d,'
        b'"data":{"object":{"id":"%s"}}}'
        % (int(clock.now().timestamp()), str(payment.provider_reference).encode())
    )
    forged = await client.post(
        WEBHOOK, content=body, headers={"Webhook-Signature": f"t={int(time.time())},v1=" + "0" * 64}
    )
    assert forged.status_code == 400
    poll_url = f"/kiosk/{kiosk.id}/sessions/{opened['id']}"
    assert (await client.get(poll_url, headers=kiosk.headers)).json()["status"] == "pending"
    start = await client.post(f"{poll_url}/start", headers=kiosk.headers)
    assert start.json()["error"]["code"] == "SESSION_NOT_PAID"


async def test_other_kiosks_and_partners_are_refused(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    partner = await login(client, world.partner)
    await set_price(client, partner, first)
    await set_price(client, partner, second)
    opened = await open_session(client, first)
    await pay(client, str(opened["paymentUrl"]))
    own_url = f"/kiosk/{first.id}/sessions/{opened['id']}"
    # Another kiosk's key on this kiosk's path: 403; its own path with this session: 404.
    assert (await client.get(own_url, headers=second.headers)).status_code == 403
    assert (await client.post(f"{own_url}/start", headers=second.headers)).status_code == 403
    foreign_url = f"/kiosk/{second.id}/sessions/{opened['id']}"
    assert (await client.get(foreign_url, headers=second.headers)).status_code == 404
    stolen = await client.post(f"{foreign_url}/start", headers=second.headers)
    assert stolen.status_code == 404
    assert stolen.json()["error"]["code"] == "SESSION_NOT_FOUND"
    assert (await client.get(own_url)).status_code == 401
    # Another partner sees none of it.
    other = await make_world(resources, admin=world.admin)
    stranger = await login(client, other.partner)
    for method, path, body in (
        ("GET", f"/partner/kiosks/{first.id}/revenue", None),
        ("GET", f"/partner/kiosks/{first.id}/cash", None),
        ("POST", f"/partner/kiosks/{first.id}/cash/settle", None),
        ("POST", f"/partner/kiosks/{first.id}/price", {"amount": 1, "currency": "EUR"}),
    ):
        resp = await client.request(method, path, json=body, headers=stranger)
        assert resp.status_code == 404, (method, path)
        assert resp.json()["error"]["code"] == "KIOSK_NOT_FOUND"
    # The round is still there for its own kiosk.
    assert (await client.post(f"{own_url}/start", headers=first.headers)).status_code == 200


async def test_twenty_parallel_starts_start_one_round(
    production_only: None, client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk)
    opened = await open_session(client, kiosk)
    await pay(client, str(opened["paymentUrl"]))
    url = f"/kiosk/{kiosk.id}/sessions/{opened['id']}/start"
    answers = await asyncio.gather(*(client.post(url, headers=kiosk.headers) for _ in range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "SESSION_ALREADY_STARTED"
    }
    assert (await _events(db, kiosk.id)).count("KIOSK_ROUND_STARTED") == 1


async def test_cash_rounds_balance_and_settlement(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    await set_price(client, partner, kiosk, 3, "EUR")
    for _ in range(2):
        code = (await client.post(f"/partner/kiosks/{kiosk.id}/code", headers=partner)).json()
        redeemed = await client.post(
            f"/kiosk/{kiosk.id}/code/redeem", json={"code": code["code"]}, headers=kiosk.headers
        )
        assert redeemed.status_code == 200, redeemed.text
    cash = (await client.get(f"/partner/kiosks/{kiosk.id}/cash", headers=partner)).json()
    assert (cash["rounds"], cash["amount"], cash["currency"]) == (2, 6, "EUR")
    assert cash["lastSettledAt"] is None
    revenue = (await client.get(f"/partner/kiosks/{kiosk.id}/revenue", headers=partner)).json()
    assert revenue["cash"] == {"rounds": 2, "amount": 6}
    assert revenue["free"] == {"cash": 2, "error": 0}
    settled = await client.post(f"/partner/kiosks/{kiosk.id}/cash/settle", headers=partner)
    assert settled.status_code == 200
    assert (settled.json()["settledRounds"], settled.json()["settledAmount"]) == (2, 6)
    after = (await client.get(f"/partner/kiosks/{kiosk.id}/cash", headers=partner)).json()
    assert (after["rounds"], after["amount"]) == (0, 0)
    assert after["lastSettledAt"] is not None
    # Settling again books nothing and logs nothing.
    again = (await client.post(f"/partner/kiosks/{kiosk.id}/cash/settle", headers=partner)).json()
    assert again["settledRounds"] == 0
    assert (await _events(db, kiosk.id)).count("KIOSK_CASH_SETTLED") == 1
    # The revenue of the period still counts the rounds granted.
    revenue = (await client.get(f"/partner/kiosks/{kiosk.id}/revenue", headers=partner)).json()
    assert revenue["cash"] == {"rounds": 2, "amount": 6}


async def test_revenue_period_is_checked(client: httpx.AsyncClient, resources: Resources) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    url = f"/partner/kiosks/{kiosk.id}/revenue"
    reversed_ = await client.get(url, params={"dateFrom": "2026-02-02", "dateTo": "2026-02-01"})
    assert reversed_.status_code == 401  # no token first
    reversed_ = await client.get(
        url, params={"dateFrom": "2026-02-02", "dateTo": "2026-02-01"}, headers=partner
    )
    assert reversed_.status_code == 400
    week = await client.get(
        url, params={"dateFrom": "2026-02-01", "dateTo": "2026-02-07"}, headers=partner
    )
    assert week.json()["days"][0]["date"] == "2026-02-01"
    assert len(week.json()["days"]) == 7
    assert (await client.get(url, params={"dateTo": "x"}, headers=partner)).status_code == 400


async def test_sessions_are_rows_of_the_kiosk(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk, 4, "USD")
    opened = await open_session(client, kiosk)
    await db.rollback()
    row = (await db.execute(select(KioskSession))).scalar_one()
    assert (row.kiosk_id, row.amount_minor, row.currency, row.status) == (
        kiosk.id,
        400,
        "USD",
        "pending",
    )
    payment = (await db.execute(select(Payment))).scalar_one()
    assert (payment.purpose, payment.reference_id, payment.amount_minor) == (
        "kiosk_round",
        row.id,
        400,
    )
    assert str(opened["paymentUrl"]).endswith(f"/pay/{payment.id}")


async def test_admin_kiosk_analytics_show_online_revenue(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    partner = await login(client, world.partner)
    await set_price(client, partner, first, 2.5, "EUR")
    for _ in range(2):
        opened = await open_session(client, first)
        await pay(client, str(opened["paymentUrl"]))
        url = f"/kiosk/{first.id}/sessions/{opened['id']}/start"
        assert (await client.post(url, headers=first.headers)).status_code == 200
    paid_only = await open_session(client, first)  # paid, not started: no revenue yet
    await pay(client, str(paid_only["paymentUrl"]))
    admin = await login(client, world.admin)
    data = (await client.get("/api/v1/admin/analytics/kiosks", headers=admin)).json()["data"]
    by_kiosk = {k["kioskId"]: k for k in data["byKiosk"]}
    assert by_kiosk[str(first.id)]["onlineRounds"] == 2
    assert by_kiosk[str(first.id)]["onlineRevenue"] == [{"currency": "EUR", "amount": 5}]
    assert by_kiosk[str(second.id)]["onlineRounds"] == 0
    assert by_kiosk[str(second.id)]["onlineRevenue"] == []
    assert data["summary"]["onlineRevenue"] == [{"currency": "EUR", "amount": 5}]


async def test_cleanup_keeps_paid_sessions_as_long_as_orders(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    from iwm.modules.cleanup.service import CleanupService

    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk)
    paid = await open_session(client, kiosk)
    await pay(client, str(paid["paymentUrl"]))
    await client.post(f"/kiosk/{kiosk.id}/sessions/{paid['id']}/start", headers=kiosk.headers)
    unpaid = await open_session(client, kiosk)
    settings = resources.settings
    clock.travel(timedelta(days=settings.order_retention_days, hours=1))
    assert (await CleanupService(resources).run(dry_run=True)).kiosk_sessions == 1
    assert (await CleanupService(resources).run()).kiosk_sessions == 1
    await db.rollback()
    left = list((await db.execute(select(KioskSession.id))).scalars())
    assert [str(i) for i in left] == [unpaid["id"]]
    assert len(list((await db.execute(select(Payment.id))).scalars())) == 2  # money records
    clock.travel(timedelta(days=settings.kiosk_session_expired_retention_days))
    assert (await CleanupService(resources).run()).kiosk_sessions == 1
    assert (await CleanupService(resources).run()).kiosk_sessions == 0


async def test_the_dashboard_kiosk_card_shows_today_and_the_cash_to_collect(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    from iwm.core.deps import SESSION_COOKIE

    world = await make_world(resources)
    kiosk = world.kiosks[0]
    partner = await login(client, world.partner)
    await set_price(client, partner, kiosk, 2.5, "EUR")
    opened = await open_session(client, kiosk)
    await pay(client, str(opened["paymentUrl"]))
    await client.post(f"/kiosk/{kiosk.id}/sessions/{opened['id']}/start", headers=kiosk.headers)
    code = (await client.post(f"/partner/kiosks/{kiosk.id}/code", headers=partner)).json()
    await client.post(
        f"/kiosk/{kiosk.id}/code/redeem", json={"code": code["code"]}, headers=kiosk.headers
    )
    client.cookies.set(SESSION_COOKIE, partner["Authorization"].removeprefix("Bearer "))
    try:
        page = await client.get("/dashboard/kiosks")
    finally:
        client.cookies.clear()
    assert page.status_code == 200
    start = page.text.find("kiosk-money")
    assert start > 0, page.text[:3000]
    assert 'data-testid="today-revenue" dir="ltr">1 · 2.50 EUR<' in page.text, page.text[
        start : start + 600
    ]
    assert 'data-testid="cash-balance" dir="ltr">1 · 2.50 EUR<' in page.text
