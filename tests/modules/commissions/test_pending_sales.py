"""Commissions booked after the payment's transaction: the webhook takes no partner lock, a
sale waits in `pending_sales` until the booker (right after the commit, or the scheduler's
sweep after a crash) books it once; a cancel before that leaves nothing to reverse."""

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.commissions import engine
from iwm.modules.commissions.engine import (
    CommissionEngine,
    Sale,
    SaleLine,
    book_pending_sales,
    book_soon,
)
from iwm.modules.commissions.models import PendingSale, SourceType
from iwm.modules.network.models import NetworkPartner, PartnerPeriodVolume
from iwm.modules.network.service import NetworkService
from iwm.modules.payments.models import Payment
from iwm.modules.payments.provider import WebhookEvent
from iwm.modules.payments.service import SUCCEEDED, PaymentService
from iwm.modules.shop_orders.models import ShopOrder
from iwm.modules.shop_orders.service import ShopOrderService
from tests.factories.checkout import add_address, checkout, order_body
from tests.factories.kiosk_network import login
from tests.factories.money import (
    balances,
    cancel_order,
    commissions_of,
    fresh,
    ledger_sums,
    make_chain,
    make_person,
    make_product,
    place_order,
)
from tests.factories.payments import provider


async def _pay_without_booking(resources: Resources, order: ShopOrder) -> None:
    """Paid as the webhook pays, and the process gone before its booking ran."""
    async with resources.sessionmaker.begin() as db:
        await ShopOrderService(db, resources.settings).pay(order.id, book_later=True)


async def _waiting(db: AsyncSession) -> int:
    await fresh(db)
    return int(await db.scalar(select(func.count()).select_from(PendingSale)) or 0)


async def _volume(db: AsyncSession, partner_id: uuid.UUID) -> int:
    await fresh(db)
    partner = await db.get(NetworkPartner, partner_id)
    assert partner is not None
    return partner.sales_volume_minor


async def test_a_paid_sale_waits_until_the_booker_books_it_once(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=3)
    product = await make_product(resources, price="100.00", commission="10")
    order = await place_order(resources, chain.buyer, product)

    await _pay_without_booking(resources, order)

    assert await _waiting(db) == 1
    assert await commissions_of(db, order.id) == []
    assert await _volume(db, chain.buyer_partner.id) == 0

    assert await book_pending_sales(resources) == 1

    rows = await commissions_of(db, order.id)
    assert sorted((r.partner_id, r.level_depth) for r in rows) == sorted(
        (p.id, level) for level, p in enumerate(reversed(chain.partners), start=1)
    )
    assert await _waiting(db) == 0
    assert await _volume(db, chain.buyer_partner.id) == 10_000
    for partner in chain.partners:
        assert (await balances(db, partner.id)).pending > 0
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)
    # The sweep runs again: nothing is booked twice.
    assert await book_pending_sales(resources) == 0
    assert len(await commissions_of(db, order.id)) == 3


async def test_a_cancel_before_the_booking_leaves_nothing_to_reverse(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, price="50.00")
    order = await place_order(resources, chain.buyer, product)
    await _pay_without_booking(resources, order)

    cancelled = await cancel_order(resources, order)

    assert (cancelled.status, cancelled.payment_status) == ("CANCELLED", "REFUNDED")
    assert await _waiting(db) == 0
    assert await book_pending_sales(resources) == 0
    assert await commissions_of(db, order.id) == []
    # Its volume was never booked, so none is taken back.
    assert await _volume(db, chain.buyer_partner.id) == 0
    for partner in chain.partners:
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)
        assert (await balances(db, partner.id)).pending == 0


async def test_the_webhook_pays_while_an_upline_partner_is_locked(
    production_only: None,
    client: httpx.AsyncClient,
    resources: Resources,
    db: AsyncSession,
) -> None:
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources)
    headers = await login(client, chain.buyer)
    placed = await checkout(
        client, headers, order_body(await add_address(client, headers), (product.id, 1))
    )
    order_id = uuid.UUID(placed.json()["data"]["order"]["id"])
    payment = await db.get(Payment, uuid.UUID(placed.json()["data"]["payment"]["id"]))
    assert payment is not None
    assert payment.provider_reference is not None
    event = WebhookEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        type=SUCCEEDED,
        payment_reference=payment.provider_reference,
        occurred_at=clock.now(),
    )

    # A payout request, a status change or another sale holds the sponsor's row.
    async with resources.sessionmaker.begin() as holder:
        await holder.execute(
            text("SELECT id FROM network_partners WHERE id = :id FOR UPDATE"),
            {"id": chain.partners[-1].id},
        )

        async def webhook() -> None:
            async with resources.sessionmaker.begin() as tx:
                await PaymentService(tx, provider(resources)).handle_webhook(event)

        await asyncio.wait_for(webhook(), timeout=10)

        await fresh(db)
        order = await db.get(ShopOrder, order_id)
        assert order is not None
        assert order.status == "PAID"
        assert await _waiting(db) == 1

    assert await book_pending_sales(resources) == 1
    assert len(await commissions_of(db, order_id)) == 2


async def test_bookers_at_once_book_every_sale_once(
    production_only: None, resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=3)
    product = await make_product(resources, price="20.00", commission="10")
    orders = [await place_order(resources, chain.buyer, product) for _ in range(24)]
    for order in orders:
        await _pay_without_booking(resources, order)

    booked = await asyncio.gather(*(book_pending_sales(resources, batch=5) for _ in range(3)))

    assert sum(booked) == 24
    assert await _waiting(db) == 0
    for order in orders:
        assert len(await commissions_of(db, order.id)) == 3
    assert await _volume(db, chain.buyer_partner.id) == 24 * 2_000
    for partner in chain.partners:
        assert await balances(db, partner.id) == await ledger_sums(db, partner.id)


async def test_a_sale_booked_after_its_month_ended_counts_in_the_month_it_was_paid(
    resources: Resources, db: AsyncSession
) -> None:
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, price="100.00", commission="10")
    now = clock.now()
    next_month = (now.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    clock.travel(next_month - now - timedelta(minutes=1))
    paid_in = clock.now().strftime("%Y-%m")
    order = await place_order(resources, chain.buyer, product)
    await _pay_without_booking(resources, order)

    clock.travel(timedelta(minutes=5))  # the sweep after a restart, in the next month
    assert await book_pending_sales(resources) == 1

    await fresh(db)
    volumes = (
        await db.execute(select(PartnerPeriodVolume.period, PartnerPeriodVolume.volume_minor))
    ).all()
    assert [tuple(v) for v in volumes] == [(paid_in, 10_000)]
    assert {c.period_id for c in await commissions_of(db, order.id)} == {paid_in}


async def test_bookers_of_buyers_at_other_depths_under_one_ancestor_do_not_deadlock(
    production_only: None, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two branches under one root, buyers six and seven levels down: each booker has one
    # of each, so booking them one after another takes the root's level rows (6 and 7) in
    # opposite orders.
    root = await _enroll(resources, None)
    buyers: dict[int, list[tuple[uuid.UUID, uuid.UUID]]] = {6: [], 7: []}
    for depth in (6, 6, 7, 7):
        sponsor = root
        for _ in range(depth):
            sponsor = await _enroll(resources, sponsor[0])
        buyers[depth].append(sponsor)
    first = (min(buyers[6]), max(buyers[7]))  # its level-6 buyer has the lower id
    second = (max(buyers[6]), min(buyers[7]))
    if first[0][0] > first[1][0]:
        first, second = (first[1], first[0]), (second[1], second[0])
    met = asyncio.Barrier(2)
    book = NetworkService.book_sales_volumes
    seen: set[int] = set()

    async def meet_then_book(
        self: NetworkService, volumes: Mapping[tuple[uuid.UUID, str], int]
    ) -> None:
        # Both bookers hold their uplines' partner rows, and neither a per-level row yet.
        seen.add(id(self))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(met.wait(), 1.0)
        await book(self, volumes)

    monkeypatch.setattr(NetworkService, "book_sales_volumes", meet_then_book)

    async def booker(pair: tuple[tuple[uuid.UUID, uuid.UUID], ...]) -> None:
        async with resources.sessionmaker.begin() as tx:
            await CommissionEngine(tx, resources.settings).on_sales(
                [_sale(user_id) for _, user_id in pair]
            )

    await asyncio.gather(booker(first), booker(second))
    assert len(seen) == 2  # both bookers met where a deadlock would begin


async def _enroll(resources: Resources, sponsor: uuid.UUID | None) -> tuple[uuid.UUID, uuid.UUID]:
    """A new partner under `sponsor`: (partner id, user id)."""
    user = await make_person(resources, "Branch")
    async with resources.sessionmaker.begin() as tx:
        partner = await NetworkService(tx, resources.settings).enroll(user.id, sponsor)
    return partner.id, user.id


def _sale(user_id: uuid.UUID) -> Sale:
    return Sale(SourceType.ORDER, uuid.uuid4(), user_id, "USD", [SaleLine(10_000, 1_000, 500)])


async def test_sales_paid_within_the_booking_window_are_booked_in_one_pass(
    resources: Resources, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three payments a few milliseconds apart, each handing its sale to the booking loop
    # after its commit: the loop waits out the window, then books the three together.
    monkeypatch.setattr(resources.settings, "commission_booking_window_ms", 1000)
    chain = await make_chain(resources, levels=2)
    product = await make_product(resources, price="20.00")
    passes: list[int] = []

    async def counted(resources: Resources, batch: int = 200) -> int:
        booked = await book_pending_sales(resources, batch)
        passes.append(booked)
        return booked

    monkeypatch.setattr(engine, "book_pending_sales", counted)
    handed: list[asyncio.Task[None]] = []
    orders = []
    for _ in range(3):
        order = await place_order(resources, chain.buyer, product)
        await _pay_without_booking(resources, order)
        orders.append(order)
        handed.append(asyncio.create_task(book_soon(resources)))
        await asyncio.sleep(0.01)
    await asyncio.gather(*handed)

    assert passes == [3]
    assert await _waiting(db) == 0
    for order in orders:
        assert len(await commissions_of(db, order.id)) == 2
