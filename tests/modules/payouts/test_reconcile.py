"""Payouts left in PROCESSING (the server stopped between the claim and the outcome) are
finished by the reconciliation, which never pays twice."""

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.modules.audit.models import AuditLog
from iwm.modules.ledger.service import Shares
from iwm.modules.payouts.models import Payout, PayoutStatus, SimulatedPayment
from iwm.modules.payouts.provider import PaymentOrder, PaymentResult, SimulatedProvider
from iwm.modules.payouts.service import PayoutProcessor, reconcile_payouts
from tests.factories.kiosk_network import count
from tests.factories.money import API, admin, balances, fresh, ledger_sums, request_payout
from tests.modules.cli.test_cli import run_cli
from tests.modules.payouts.test_router import _earning_partner
from tests.support import Profile

STALE = timedelta(seconds=900)


class Crash(Exception):
    """The server went away mid-call."""


class CrashingProvider:
    """Stops before paying, or (paid_first) right after the payment was made."""

    def __init__(self, resources: Resources, *, paid_first: bool) -> None:
        self._real = SimulatedProvider(resources.sessionmaker)
        self._paid_first = paid_first

    async def pay(self, order: PaymentOrder) -> PaymentResult:
        if self._paid_first:
            await self._real.pay(order)
        raise Crash


async def _stuck_payout(
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
    *,
    paid_first: bool,
) -> tuple[Payout, Principal, dict[str, str]]:
    """An approved 20.00 payout whose `process` died after claiming it."""
    staff, headers = await admin(client, resources)
    chain, _ = await _earning_partner(client, resources, db, headers)
    payout = await request_payout(resources, chain.partners[0], "20.00")
    assert (
        await client.post(f"{API}/payouts/{payout.id}/approve", headers=headers)
    ).status_code == 200
    principal = Principal(
        user_id=staff.id, email=staff.email, roles=frozenset({Role.ADMIN}), token_hash="-"
    )
    processor = PayoutProcessor(
        resources.sessionmaker,
        resources.settings,
        CrashingProvider(resources, paid_first=paid_first),
    )
    with pytest.raises(Crash):
        await processor.process(principal, payout.id, None)
    row = await (await fresh(db)).get(Payout, payout.id)
    assert row is not None
    assert row.status == PayoutStatus.PROCESSING
    return row, principal, headers


@pytest.mark.parametrize("paid_first", [False, True], ids=["before-paying", "after-paying"])
async def test_a_stuck_payout_is_completed_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, paid_first: bool
) -> None:
    payout, staff, headers = await _stuck_payout(client, resources, db, paid_first=paid_first)
    pid = payout.partner_id
    assert await count(db, SimulatedPayment) == (1 if paid_first else 0)
    # Not yet stale: a payment may still be on its way.
    assert await reconcile_payouts(resources) == {"completed": 0, "sent": 0, "failed": 0}

    clock.travel(STALE + timedelta(seconds=1))
    assert await reconcile_payouts(resources) == {"completed": 1, "sent": 0, "failed": 0}
    await fresh(db)
    row = await db.get(Payout, payout.id)
    assert row is not None
    assert row.status == PayoutStatus.COMPLETED
    assert row.external_reference is not None
    assert row.external_reference.startswith("SIM-")
    assert await count(db, SimulatedPayment) == 1  # paid exactly once either way
    assert await balances(db, pid) == Shares(available=3000, earned=5000, withdrawn=2000)
    assert await ledger_sums(db, pid) == await balances(db, pid)
    audit = (await db.scalars(select(AuditLog).where(AuditLog.action == "PAYOUT_COMPLETED"))).one()
    assert audit.admin_id == staff.user_id
    assert audit.new_values is not None
    assert audit.new_values["reconciled"] is True

    # Nothing is left to do, and the payout cannot be processed again.
    assert await reconcile_payouts(resources) == {"completed": 0, "sent": 0, "failed": 0}
    again = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert again.json()["error"]["code"] == "NOT_APPROVED"
    assert await count(await fresh(db), SimulatedPayment) == 1


async def test_a_declined_stuck_payout_goes_back_to_approved(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    payout, _, headers = await _stuck_payout(client, resources, db, paid_first=False)
    clock.travel(STALE + timedelta(seconds=1))
    resources.settings.payout_provider = "failing"
    try:
        assert await reconcile_payouts(resources) == {"completed": 0, "sent": 0, "failed": 1}
    finally:
        resources.settings.payout_provider = "simulated"
    await fresh(db)
    row = await db.get(Payout, payout.id)
    assert row is not None
    assert row.status == PayoutStatus.APPROVED
    assert await count(db, AuditLog, action="PAYOUT_PAYMENT_FAILED") == 1
    assert await ledger_sums(db, payout.partner_id) == await balances(db, payout.partner_id)
    retried = await client.post(f"{API}/payouts/{payout.id}/process", headers=headers)
    assert retried.json()["data"]["status"] == "COMPLETED"


async def test_reconciliations_at_once_pay_and_record_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    """Every server process reconciles on its own schedule: five at the same moment."""
    payout, _, _ = await _stuck_payout(client, resources, db, paid_first=False)
    clock.travel(STALE + timedelta(seconds=1))
    results = await asyncio.gather(*(reconcile_payouts(resources) for _ in range(5)))
    assert sum(r["completed"] for r in results) == 1
    await fresh(db)
    assert await count(db, SimulatedPayment) == 1
    assert await count(db, AuditLog, action="PAYOUT_COMPLETED") == 1
    assert await ledger_sums(db, payout.partner_id) == await balances(db, payout.partner_id)


async def test_a_stuck_payout_shows_since_when_and_the_command_finishes_it_now(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, profile: Profile
) -> None:
    payout, _, headers = await _stuck_payout(client, resources, db, paid_first=True)
    shown = (await client.get(f"{API}/payouts/{payout.id}", headers=headers)).json()["data"]
    assert shown["status"] == "PROCESSING"
    assert payout.processed_at is not None
    # Times in answers are whole seconds.
    since = datetime.fromisoformat(shown["processingSince"])
    assert since == payout.processed_at.replace(microsecond=0)
    listed = (await client.get(f"{API}/payouts", headers=headers)).json()["data"]["payouts"]
    assert [p["processingSince"] for p in listed] == [shown["processingSince"]]

    # Without --now it waits for the configured delay (a payment may still be under way).
    waits = run_cli(profile, "reconcile-payouts")
    assert waits.returncode == 0, waits.stderr
    assert "payouts completed 0" in waits.stdout
    done = run_cli(profile, "reconcile-payouts", "--now")
    assert done.returncode == 0, done.stderr
    assert "payouts completed 1, still sent 0, failed 0" in done.stdout

    await fresh(db)
    row = await db.get(Payout, payout.id)
    assert row is not None
    assert row.status == PayoutStatus.COMPLETED
    assert await count(db, SimulatedPayment) == 1  # the same idempotency key: paid once
    after = (await client.get(f"{API}/payouts/{payout.id}", headers=headers)).json()["data"]
    assert after["status"] == "COMPLETED"
    assert after["processingSince"] is None
