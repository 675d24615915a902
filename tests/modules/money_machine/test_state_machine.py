"""A Hypothesis state machine over the money: orders paid and refunded, commissions
approved, held, reversed and adjusted (with pending changes confirmed or rejected by a
second admin), payout requests, approvals, rejections with and without return, processing
that succeeds, fails or stops after its claim, and the reconciliation. After every step:

- each partner's balance columns equal the sums over the ledger and the SPEC §6
  definitions computed from the commissions and payouts themselves;
- no payout was claimed for payment (and so completed) while its partner's available
  balance was negative, and right after a payment the partner's total withdrawn never
  exceeds his total earned;
- every commission's amount is at most its recorded plan amount (base x rate): a second
  admin confirms raises, and nothing ever goes above the plan.

It runs on SQLite and on PostgreSQL (the `settings` fixture's two profiles), on its own
engine and event loop: Hypothesis drives the machine synchronously.
"""

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core.config import Settings
from iwm.core.db import make_engine, make_sessionmaker
from iwm.core.errors import DomainError
from iwm.core.principal import Principal, Role
from iwm.core.resources import Resources
from iwm.modules.commissions.admin_service import AdjustAction, CommissionService
from iwm.modules.commissions.models import (
    ChangeStatus,
    Commission,
    CommissionChange,
    CommissionStatus,
)
from iwm.modules.ledger.service import LedgerService, Shares
from iwm.modules.network.models import NetworkPartner
from iwm.modules.payouts.models import Payout, PayoutStatus
from iwm.modules.payouts.provider import PaymentOrder, PaymentResult, make_provider
from iwm.modules.payouts.service import PayoutProcessor, PayoutService
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from tests.factories.kiosk_network import make_user, principal_of
from tests.factories.money import expected_balances, make_chain, make_product

# Enough to find a payout paid after its commission was reversed on the code before
# reservations held: generated with a fixed seed (derandomize), that code failed at the
# 9th example on both databases (see docs/decisions.md). IWM_MONEY_MACHINE_EXAMPLES and
# _STEPS run it longer.
MAX_EXAMPLES = int(os.environ.get("IWM_MONEY_MACHINE_EXAMPLES", "25"))
STEPS = int(os.environ.get("IWM_MONEY_MACHINE_STEPS", "30"))
T = TypeVar("T")


MOVING_PAYOUTS = {PayoutStatus.PENDING, PayoutStatus.APPROVED, PayoutStatus.PROCESSING}
OPEN_COMMISSIONS = {CommissionStatus.PENDING, CommissionStatus.APPROVED, CommissionStatus.HELD}


class Crash(Exception):
    """The process stops between the claim and the outcome (the provider never answers)."""


class CrashingProvider:
    async def pay(self, order: PaymentOrder) -> PaymentResult:
        raise Crash(order.idempotency_key)


class MoneyMachine(RuleBasedStateMachine):
    """One example: a fresh sponsor chain, two admins, two products; rules pick among the
    rows this example made."""

    loop: asyncio.AbstractEventLoop
    maker: async_sessionmaker[AsyncSession]
    cfg: Settings
    passwords: Any

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    @initialize()
    def setup(self) -> None:
        self.partners: list[uuid.UUID] = []
        self.orders: list[uuid.UUID] = []
        self.commissions: list[uuid.UUID] = []
        self.changes: list[uuid.UUID] = []
        self.payouts: list[uuid.UUID] = []
        self.claimed_while_negative: list[uuid.UUID] = []
        self.run(self._setup())

    async def _setup(self) -> None:
        res = cast(
            Resources,
            SimpleNamespace(sessionmaker=self.maker, settings=self.cfg, passwords=self.passwords),
        )
        chain = await make_chain(res, levels=2)
        self.buyer = chain.buyer.id
        self.partners = [p.id for p in chain.partners]
        self.admins: list[Principal] = [
            principal_of(await make_user(res, Role.ADMIN)) for _ in range(2)
        ]
        self.products = [
            (await make_product(res, price=price, commission="10", points="1")).id
            for price in ("213.40", "25000.00")
        ]
        # A first sale, its commissions approved: the partners start with money to ask for.
        async with self.maker.begin() as s:
            service = ShopOrderService(s, self.cfg)
            first = await service.place(self.buyer, [OrderLine(self.products[0], 1)])
            self.orders.append(first.id)
            await service.pay(first.id)
        await self._collect_commissions()
        for commission_id in self.commissions:
            async with self.maker.begin() as s:
                await CommissionService(s, self.cfg).adjust(
                    self.admins[0], commission_id, AdjustAction.APPROVE, "first sale", None
                )

    # -- sales ---------------------------------------------------------------------------

    @rule(
        refund=st.sampled_from([False, False, True]),
        product=st.integers(0, 1),
        quantity=st.integers(1, 3),
        pick=st.integers(0, 50),
    )
    def sale(self, refund: bool, product: int, quantity: int, pick: int) -> None:
        """A paid order (its commissions made by the engine), or the refund of one (its
        clawback: open commissions reversed, paid ones corrected)."""
        if refund and self.orders:
            order_id = self.orders[pick % len(self.orders)]
            self._attempt(lambda s: ShopOrderService(s, self.cfg).cancel(order_id))
        else:

            async def go(s: AsyncSession) -> None:
                service = ShopOrderService(s, self.cfg)
                lines = [OrderLine(self.products[product], quantity)]
                placed = await service.place(self.buyer, lines)
                self.orders.append(placed.id)
                await service.pay(placed.id)

            self._attempt(go)
        self.run(self._collect_commissions())

    async def _collect_commissions(self) -> None:
        # In a replayable order (ids are random): when made, then level, originals first.
        async with self.maker() as s:
            rows = await s.execute(
                select(Commission.id, Commission.created_at, Commission.level_depth)
                .where(Commission.partner_id.in_(self.partners))
                .where(Commission.id.not_in(self.commissions))
            )
            fresh = sorted(rows, key=lambda r: (r[1], r[2] or 0))
        self.commissions += [r[0] for r in fresh]

    # -- commissions ---------------------------------------------------------------------

    @precondition(lambda self: self.commissions)
    @rule(
        # Approvals and reversals (the clawback) more often than holds and amount changes.
        action=st.sampled_from(
            [
                AdjustAction.APPROVE,
                AdjustAction.APPROVE,
                AdjustAction.REVERSE,
                AdjustAction.HOLD,
                AdjustAction.ADJUST_AMOUNT,
            ]
        ),
        pick=st.integers(0, 50),
        admin=st.integers(0, 1),
        share=st.integers(0, 120),
    )
    def adjust(self, action: AdjustAction, pick: int, admin: int, share: int) -> None:
        open_ = self._among(Commission, self.commissions, OPEN_COMMISSIONS)
        if not open_:
            return
        commission_id = open_[pick % len(open_)]

        async def go(s: AsyncSession) -> None:
            row = await s.get(Commission, commission_id)
            assert row is not None
            # Amounts around the plan's: cuts, raises, and a little above the ceiling.
            amount = max(0, abs(row.base_minor * row.rate_bp // 10000) * share // 100)
            outcome = await CommissionService(s, self.cfg).adjust(
                self.admins[admin],
                commission_id,
                action,
                "state machine",
                amount if action is AdjustAction.ADJUST_AMOUNT else None,
            )
            if isinstance(outcome, CommissionChange):
                self.changes.append(outcome.id)

        self._attempt(go)

    @precondition(lambda self: self.changes)
    @rule(pick=st.integers(0, 50), admin=st.integers(0, 1), confirm=st.booleans())
    def decide_change(self, pick: int, admin: int, confirm: bool) -> None:
        change_id = self.changes[pick % len(self.changes)]

        async def go(s: AsyncSession) -> None:
            change = await s.get(CommissionChange, change_id)
            assert change is not None
            service = CommissionService(s, self.cfg)
            decide = service.confirm_change if confirm else service.reject_change
            await decide(self.admins[admin], change.commission_id, change_id, "second look")

        self._attempt(go)

    # -- payouts -------------------------------------------------------------------------

    @rule(
        step=st.sampled_from(["request", "advance", "advance", "reject"]),
        pick=st.integers(0, 50),
        admin=st.integers(0, 1),
        share=st.integers(1, 100),
        give_back=st.booleans(),
        outcome=st.sampled_from(["simulated", "failing", "crash"]),
    )
    def payout(
        self, step: str, pick: int, admin: int, share: int, give_back: bool, outcome: str
    ) -> None:
        """One step of a payout's life: a request; moving one on (a PENDING one approved, an
        APPROVED one processed: paid, declined, or stopped after its claim; a PROCESSING one
        reconciled); or a rejection with or without return."""
        if step == "request":
            self.request_payout(pick, share)
        elif step == "reject":
            self.reject_payout(pick, give_back)
        else:
            moving = self._among(Payout, self.payouts, MOVING_PAYOUTS)
            if not moving:
                self.request_payout(pick, share)
                return
            payout_id = moving[pick % len(moving)]
            status = self.run(self._payout_and_balance(payout_id))[0]
            if status == PayoutStatus.PENDING:
                self.approve_payout(payout_id, admin)
            elif status == PayoutStatus.APPROVED:
                self.process(payout_id, admin, outcome)
            else:
                self.reconcile()

    def request_payout(self, pick: int, share: int) -> None:
        async def go(s: AsyncSession) -> None:
            # The partner with money to ask for (the one picked when none has any).
            rows = [await s.get(NetworkPartner, p) for p in self.partners]
            richest = max(rows, key=lambda r: r.available_minor if r else 0)
            row = richest if richest and richest.available_minor > 0 else rows[pick % len(rows)]
            assert row is not None
            amount = max(100, row.available_minor * share // 100)
            payout = await PayoutService(s, self.cfg).request(row.id, amount)
            self.payouts.append(payout.id)

        self._attempt(go)

    def approve_payout(self, payout_id: uuid.UUID, admin: int) -> None:
        self._attempt(
            lambda s: PayoutService(s, self.cfg).approve(self.admins[admin], payout_id, None)
        )

    def reject_payout(self, pick: int, give_back: bool) -> None:
        open_ = self._among(Payout, self.payouts, {PayoutStatus.PENDING, PayoutStatus.APPROVED})
        if not open_:
            return
        payout_id = open_[pick % len(open_)]
        self._attempt(
            lambda s: PayoutService(s, self.cfg).reject(self.admins[0], payout_id, "no", give_back)
        )

    def process(self, payout_id: uuid.UUID, admin: int, outcome: str) -> None:
        provider: Any = (
            CrashingProvider() if outcome == "crash" else make_provider(outcome, self.maker)
        )
        processor = PayoutProcessor(self.maker, self.cfg, provider)
        before = self.run(self._payout_and_balance(payout_id))
        with contextlib.suppress(DomainError, Crash):
            self.run(processor.process(self.admins[admin], payout_id, None))
        after = self.run(self._payout_and_balance(payout_id))
        claimed = before[0] == PayoutStatus.APPROVED and after[0] in (
            PayoutStatus.PROCESSING,
            PayoutStatus.COMPLETED,
        )
        if claimed and before[1].available < 0:
            self.claimed_while_negative.append(payout_id)
        if before[0] != PayoutStatus.COMPLETED and after[0] == PayoutStatus.COMPLETED:
            assert after[1].withdrawn <= after[1].earned, "paid out more than earned"

    def reconcile(self) -> None:
        processor = PayoutProcessor(self.maker, self.cfg, make_provider("simulated", self.maker))
        # Every PROCESSING payout counts as stale: the crash above left them there.
        self.run(processor.reconcile(timedelta(seconds=-1)))

    async def _payout_and_balance(self, payout_id: uuid.UUID) -> tuple[str, Shares]:
        async with self.maker() as s:
            payout = await s.get(Payout, payout_id)
            assert payout is not None
            partner = await s.get(NetworkPartner, payout.partner_id)
            assert partner is not None
            return str(payout.status), Shares(
                partner.available_minor,
                partner.pending_minor,
                partner.total_earned_minor,
                partner.total_withdrawn_minor,
                partner.career_points_total,
            )

    def _among(self, model: Any, ids: list[uuid.UUID], statuses: set[str]) -> list[uuid.UUID]:
        """The rows of `ids` (in their order) whose status is one of `statuses`."""

        async def read() -> set[uuid.UUID]:
            async with self.maker() as s:
                return set(
                    await s.scalars(
                        select(model.id).where(model.id.in_(ids), model.status.in_(statuses))
                    )
                )

        found = self.run(read())
        return [i for i in ids if i in found]

    def _attempt(self, work: Any) -> None:
        async def go() -> None:
            try:
                async with self.maker.begin() as s:
                    await work(s)
            except DomainError:
                pass  # a refused step changes nothing: the invariants hold regardless

        self.run(go())

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def balances_equal_the_ledger(self) -> None:
        async def check() -> None:
            async with self.maker() as s:
                for partner_id in self.partners:
                    row = await s.get(NetworkPartner, partner_id, populate_existing=True)
                    assert row is not None
                    columns = Shares(
                        row.available_minor,
                        row.pending_minor,
                        row.total_earned_minor,
                        row.total_withdrawn_minor,
                        row.career_points_total,
                    )
                    assert columns == await LedgerService(s).sums(partner_id)
                    assert columns == await expected_balances(s, partner_id)

        self.run(check())

    @invariant()
    def nothing_paid_while_in_debt(self) -> None:
        assert not self.claimed_while_negative, "a payout was paid while the balance was negative"

    @invariant()
    def amounts_within_the_plan(self) -> None:
        async def check() -> None:
            async with self.maker() as s:
                rows = await s.execute(
                    select(
                        Commission.id, Commission.gross_minor, Commission.plan_amount_minor
                    ).where(Commission.partner_id.in_(self.partners))
                )
                for commission_id, gross, ceiling in rows:
                    assert ceiling is not None
                    assert gross <= ceiling, f"commission {commission_id} above its plan"
                pending = await s.scalar(
                    select(func.count())
                    .select_from(CommissionChange)
                    .where(
                        CommissionChange.id.in_(self.changes),
                        CommissionChange.status == ChangeStatus.CONFIRMED,
                        CommissionChange.requested_by == CommissionChange.decided_by,
                    )
                )
                assert pending == 0, "a change was confirmed by the admin who asked for it"

        self.run(check())


@pytest.fixture
def machine_loop(settings: Settings, resources: Resources) -> Iterator[type[MoneyMachine]]:
    """The machine's class bound to its own event loop and engine on the test's database."""
    loop = asyncio.new_event_loop()
    engine = make_engine(settings)

    class Bound(MoneyMachine):
        pass

    Bound.loop = loop
    Bound.maker = make_sessionmaker(engine)
    Bound.cfg = settings
    Bound.passwords = resources.passwords
    yield Bound
    loop.run_until_complete(engine.dispose())
    loop.close()


@pytest.mark.usefixtures("_clean")
def test_money_state_machine(machine_loop: type[MoneyMachine]) -> None:
    run_state_machine_as_test(
        machine_loop,
        settings=hyp_settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        ),
    )
