"""Members' checkout: an order from catalogue prices with its stock taken, a payment the
member completes on the provider's page, the payment's webhook making it PAID (and so the
commission engine run), expiry of unpaid orders, and the member's cancel.

Never commits: the request's (or the job's, or the webhook's) transaction does. Lock
order: the member's user row (a checkout), then products in id order (the stock), then the
order row, then the upline partners (the commission engine).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import Settings
from iwm.core.db import settings_of
from iwm.core.events import Subscriptions, handle
from iwm.core.listing import Listing, equals
from iwm.core.money import from_minor
from iwm.core.principal import Principal
from iwm.modules.audit.service import AuditService
from iwm.modules.payments.events import PaymentRefunded, PaymentSucceeded
from iwm.modules.payments.models import Payment, PaymentPurpose
from iwm.modules.payments.provider import PaymentProvider
from iwm.modules.payments.service import PaymentService
from iwm.modules.products.models import Product
from iwm.modules.shop_orders.errors import NotCancellable, ShopOrderNotFound
from iwm.modules.shop_orders.models import (
    PaymentStatus,
    ShippingMethod,
    ShopOrder,
    ShopOrderItem,
    ShopOrderStatus,
)
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.users.service import UserService

log = structlog.get_logger()

S = ShopOrderStatus
# Before shipping the member may cancel; a paid order is refunded.
CANCELLABLE = (S.PENDING_PAYMENT, S.PAID, S.PROCESSING)
ADDRESS_FIELDS = (
    "label",
    "country",
    "region",
    "city",
    "street",
    "building",
    "apartment",
    "postal_code",
)


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with what the member sees of it: item names and its payment."""

    order: ShopOrder
    items: list[tuple[ShopOrderItem, str]]
    payment: Payment | None


MY_ORDERS = Listing(
    rows=select(ShopOrder),
    key=ShopOrder.id,
    base=ShopOrder,
    filters=[equals("user_id", ShopOrder.user_id), equals("status", ShopOrder.status)],
    sorts={"createdAt": ShopOrder.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)


def merged(lines: list[OrderLine]) -> list[OrderLine]:
    """One line per product (quantities of repeated products added), in product id order."""
    quantities: dict[uuid.UUID, int] = {}
    for line in lines:
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
    return [OrderLine(pid, qty) for pid, qty in sorted(quantities.items())]


class CheckoutService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._orders = ShopOrderService(session, settings)
        self._audit = AuditService(session)

    async def lock_member(self, user_id: uuid.UUID) -> None:
        """The member's row lock: a retry with the same Idempotency-Key waits for the first
        attempt to commit and then replays its answer."""
        await UserService(self._db).lock_only(user_id)

    async def place(
        self,
        member: Principal,
        lines: list[OrderLine],
        address_id: uuid.UUID,
        method: ShippingMethod,
        provider: PaymentProvider,
    ) -> OrderView:
        """A PENDING_PAYMENT order at the catalogue's prices with its stock taken, and its
        payment opened. ADDRESS_NOT_FOUND (another member's address too),
        PRODUCT_NOT_AVAILABLE, OUT_OF_STOCK (naming the product)."""
        address = await UserService(self._db).own_address(member.user_id, address_id)
        draft = await self._orders.draft(member.user_id, merged(lines), method)
        order = draft.order
        order.shipping_address = {
            "id": str(address.id),
            **{name: getattr(address, name) for name in ADDRESS_FIELDS},
        }
        order.payment_expires_at = order.created_at + timedelta(
            minutes=self._settings.order_payment_ttl_minutes
        )
        # The payment is opened (a call to the provider) before the order takes its stock:
        # nobody's checkout waits for this one's provider call.
        payment = await PaymentService(self._db, provider).create(
            PaymentPurpose.SHOP_ORDER,
            order.id,
            order.total_minor,
            order.currency,
            idempotency_key=str(order.id),
            description=f"Order {await self._orders.number(draft)}",
            expires_at=order.payment_expires_at,
            fresh=True,
        )
        order.payment_id = payment.id
        await self._orders.submit(draft)
        self._audit.record(
            member,
            "ORDER_PLACED",
            "shop_order",
            order.id,
            new={
                "orderNumber": order.order_number,
                "status": str(order.status),
                "total": str(from_minor(order.total_minor)),
                "currency": order.currency,
                "paymentId": str(payment.id),
            },
        )
        items = sorted(
            ((item, product.name) for item, product in draft.items),
            key=lambda pair: (pair[1], pair[0].id),
        )
        return OrderView(order, items, payment)

    async def view(self, order: ShopOrder) -> OrderView:
        return (await self._views([order]))[0]

    async def _views(self, orders: list[ShopOrder]) -> list[OrderView]:
        ids = [o.id for o in orders]
        items: dict[uuid.UUID, list[tuple[ShopOrderItem, str]]] = {i: [] for i in ids}
        if ids:
            rows = await self._db.execute(
                select(ShopOrderItem, Product.name)
                .join(Product, Product.id == ShopOrderItem.product_id)
                .where(ShopOrderItem.order_id.in_(ids))
                .order_by(ShopOrderItem.order_id, Product.name, ShopOrderItem.id)
            )
            for item, name in rows:
                items[item.order_id].append((item, name))
        payments = await PaymentService.by_ids(self._db, (o.payment_id for o in orders))
        return [
            OrderView(
                o, items[o.id], payments.get(o.payment_id) if o.payment_id is not None else None
            )
            for o in orders
        ]

    async def mine(
        self, user_id: uuid.UUID, status: ShopOrderStatus | None, page: int, page_size: int
    ) -> tuple[list[OrderView], int]:
        """The member's orders, newest first."""
        found = await MY_ORDERS.page(
            self._db, {"user_id": user_id, "status": status}, page=page, page_size=page_size
        )
        return await self._views([r.ShopOrder for r in found.rows]), found.total

    async def my_order(self, user_id: uuid.UUID, order_id: uuid.UUID) -> OrderView:
        """ORDER_NOT_FOUND for another member's order as for a missing one."""
        order = await self._db.scalar(
            select(ShopOrder).where(ShopOrder.id == order_id, ShopOrder.user_id == user_id)
        )
        if order is None:
            raise ShopOrderNotFound()
        return await self.view(order)

    async def cancel(self, member: Principal, order_id: uuid.UUID) -> OrderView:
        """Before shipping: an unpaid order is CANCELLED, a paid one refunded (the refund is
        decided here and sent by `process_refunds`) with its commissions reversed; the stock
        goes back either way. NOT_CANCELLABLE once shipped or cancelled."""
        owner = await self._db.scalar(select(ShopOrder.user_id).where(ShopOrder.id == order_id))
        if owner != member.user_id:
            raise ShopOrderNotFound()
        row = await self._orders.lock(order_id, payment_first=True)
        if row.status not in CANCELLABLE:
            raise NotCancellable()
        before = {"status": str(row.status), "paymentStatus": str(row.payment_status)}
        row = await self._orders.cancel(order_id)
        self._audit.record(
            member,
            "ORDER_CANCELLED",
            "shop_order",
            row.id,
            previous=before,
            new={"status": str(row.status), "paymentStatus": str(row.payment_status)},
        )
        return await self.view(row)

    # -- the payment's events (in the webhook's transaction) ---------------------------

    async def payment_succeeded(self, event: PaymentSucceeded) -> None:
        """PENDING_PAYMENT -> PAID, its commissions booked right after the commit (of
        concurrent deliveries one pays). Paid after the order was cancelled or expired (a
        provider's late success): the money goes back."""
        row = await self._orders.pay_pending(event.reference_id, event.payment_id)
        if row is None:
            known = await self._db.scalar(
                select(ShopOrder.id).where(ShopOrder.id == event.reference_id)
            )
            if known is None:  # not an order's payment (orders are never deleted)
                log.warning("shop_order.payment_without_order", payment_id=str(event.payment_id))
                return
            await PaymentService.request_refund(self._db, event.payment_id)
            if await self._orders.refund_late_payment(event.reference_id, event.payment_id):
                self._audit.record_by(
                    None,
                    "ORDER_REFUNDED",
                    "shop_order",
                    event.reference_id,
                    previous={"paymentStatus": PaymentStatus.CANCELLED.value},
                    new={
                        "paymentStatus": PaymentStatus.REFUNDED.value,
                        "paymentId": str(event.payment_id),
                        "amount": str(from_minor(event.amount_minor)),
                    },
                )
            log.info("shop_order.late_payment_refunded", payment_id=str(event.payment_id))
            return
        self._audit.record_by(
            None,
            "ORDER_PAID",
            "shop_order",
            row.id,
            previous={"status": S.PENDING_PAYMENT.value},
            new={
                "status": S.PAID.value,
                "paymentId": str(event.payment_id),
                "amount": str(from_minor(event.amount_minor)),
            },
        )

    async def payment_refunded(self, event: PaymentRefunded) -> None:
        """A refund made at the provider (its dashboard, a dispute) of an order not shipped
        yet cancels it as the member's cancel would; a shipped one is left to an admin."""
        row = await self._db.scalar(
            select(ShopOrder).where(ShopOrder.id == event.reference_id).with_for_update()
        )
        if row is None or row.status not in (S.PAID, S.PROCESSING):
            return
        before = {"status": str(row.status), "paymentStatus": str(row.payment_status)}
        row = await self._orders.cancel(row.id)
        self._audit.record_by(
            None,
            "ORDER_REFUNDED",
            "shop_order",
            row.id,
            previous=before,
            new={"status": str(row.status), "paymentStatus": str(row.payment_status)},
        )


async def _on_paid(session: AsyncSession, event: PaymentSucceeded) -> None:
    if event.purpose == PaymentPurpose.SHOP_ORDER:
        await CheckoutService(session, settings_of(session)).payment_succeeded(event)


async def _on_refunded(session: AsyncSession, event: PaymentRefunded) -> None:
    if event.purpose == PaymentPurpose.SHOP_ORDER:
        await CheckoutService(session, settings_of(session)).payment_refunded(event)


def _subscribe(bus: Subscriptions) -> None:
    bus.on(PaymentSucceeded, _on_paid)
    bus.on(PaymentRefunded, _on_refunded)


def install() -> None:
    """Registers the shop orders' handlers of payment events (idempotent)."""
    handle("shop_orders", _subscribe)
