"""Shop orders: members place and pay them (service methods until the member API exists),
admins move them along. Paying runs the commission engine; cancelling a paid order
refunds it and reverses its commissions."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    distinct,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.db import new_id
from iwm.core.events import publish
from iwm.core.listing import Listing, at_least, below, clause, equals, like_pattern, param
from iwm.core.principal import Principal
from iwm.core.upsert import upsert
from iwm.modules.audit.service import AuditService
from iwm.modules.commissions.engine import CommissionEngine, Sale, SaleLine
from iwm.modules.commissions.models import SourceType
from iwm.modules.payments.service import PaymentService
from iwm.modules.products.models import Product, ProductStatus
from iwm.modules.products.service import ProductService
from iwm.modules.shop_orders.errors import (
    HasPendingOrders,
    InvalidTransition,
    OutOfStock,
    ProductNotAvailable,
    ShopOrderNotFound,
)
from iwm.modules.shop_orders.events import (
    DEFAULT_PAYMENT_METHOD,
    PaidLine,
    ShopOrderCancelled,
    ShopOrderMoved,
    ShopOrderPaid,
    ShopOrderPlaced,
    ShopOrderRefunded,
)
from iwm.modules.shop_orders.models import (
    OrderNumberCounter,
    PaymentStatus,
    ShippingMethod,
    ShopOrder,
    ShopOrderItem,
    ShopOrderStatus,
    ShopOrderTotal,
)
from iwm.modules.shop_orders.schemas import UserRef
from iwm.modules.users.models import User, display_name

S = ShopOrderStatus
TRANSITIONS: dict[ShopOrderStatus, frozenset[ShopOrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderFilters:
    status: ShopOrderStatus | None = None
    payment_status: PaymentStatus | None = None
    user_id: uuid.UUID | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    search: str | None = None

    @property
    def only_statuses(self) -> bool:
        return not (self.user_id or self.date_from or self.date_to or self.search)


@dataclass(frozen=True, slots=True)
class OrderSummary:
    total_orders: int
    total_revenue_minor: int
    pending_payment: int
    processing: int
    shipped: int


def _moved(
    row: ShopOrder,
    before: tuple[str, str],
    payment_method: str,
    lines: tuple[PaidLine, ...] = (),
) -> ShopOrderMoved:
    """The event of `row`'s move from `before` (status, payment status); a payment's
    carries the order's `lines`."""
    now: dict[str, Any] = {
        "order_id": row.id,
        "user_id": row.user_id,
        "status": str(row.status),
        "payment_status": str(row.payment_status),
        "total_minor": row.total_minor,
        "before_status": before[0],
        "before_payment_status": before[1],
    }
    if row.status == S.PAID:
        assert row.paid_at is not None  # noqa: S101
        return ShopOrderPaid(**now, paid_at=row.paid_at, lines=lines, payment_method=payment_method)
    if row.status == S.CANCELLED and row.payment_status == PaymentStatus.REFUNDED:
        return ShopOrderRefunded(**now)
    if row.status == S.CANCELLED:
        return ShopOrderCancelled(**now)
    return ShopOrderMoved(**now)


class OrderFields(Protocol):
    """What the list shows of an order, read as plain columns."""

    id: uuid.UUID
    order_number: str
    status: str
    payment_status: str
    item_count: int
    total_minor: int
    currency: str
    shipping_method: str
    created_at: datetime
    updated_at: datetime


# A page of orders with their customers, all as plain columns (entities cost more CPU than
# the page's SQL, and a User entity would also load its roles).
_FIELDS = [getattr(ShopOrder, name) for name in OrderFields.__annotations__]
LISTING = Listing(
    rows=select(
        *_FIELDS, User.id.label("user_id"), User.email, User.first_name, User.last_name
    ).join(User, User.id == ShopOrder.user_id),
    key=ShopOrder.id,
    base=ShopOrder,
    filters=[
        equals("status", ShopOrder.status),
        equals("payment_status", ShopOrder.payment_status),
        equals("user_id", ShopOrder.user_id),
        at_least("date_from", ShopOrder.created_at),
        below("date_to", ShopOrder.created_at),
        clause(
            "search",
            or_(
                ShopOrder.order_number.ilike(param("search"), escape="\\"),
                ShopOrder.user_id.in_(
                    select(User.id).where(User.email.ilike(param("search"), escape="\\"))
                ),
            ),
            to_param=like_pattern,
        ),
    ],
    sorts={"createdAt": ShopOrder.created_at},
    default_sort="createdAt",
)
_TOTALS = select(
    ShopOrderTotal.status,
    ShopOrderTotal.payment_status,
    func.sum(ShopOrderTotal.row_count),
    func.sum(ShopOrderTotal.amount_minor),
).group_by(ShopOrderTotal.status, ShopOrderTotal.payment_status)


def _sums_by_status(where: ColumnElement[bool]) -> Select[str, str, int, int]:
    """Order count and total by status and payment status under the filters given."""
    return (
        select(
            ShopOrder.status,
            ShopOrder.payment_status,
            func.count(),
            func.sum(ShopOrder.total_minor),
        )
        .where(where)
        .group_by(ShopOrder.status, ShopOrder.payment_status)
    )


UNFINISHED_ORDER_STATUSES = (
    ShopOrderStatus.PENDING_PAYMENT,
    ShopOrderStatus.PAID,
    ShopOrderStatus.PROCESSING,
    ShopOrderStatus.SHIPPED,
)


@dataclass(frozen=True, slots=True)
class ProductStats:
    orders_count: int = 0
    revenue_minor: int = 0


class ProductSales:
    """What the shop orders hold of each product: the admin's products list shows it, and a
    product that unfinished orders hold is not archived. Never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def stats(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, ProductStats]:
        """Orders that are not cancelled, and the revenue of paid (not refunded) ones."""
        if not product_ids:
            return {}
        paid = ShopOrder.payment_status == PaymentStatus.PAID
        rows = await self._db.execute(
            select(
                ShopOrderItem.product_id,
                func.count(distinct(ShopOrderItem.order_id)),
                func.coalesce(func.sum(case((paid, ShopOrderItem.line_total_minor), else_=0)), 0),
            )
            .join(ShopOrder, ShopOrder.id == ShopOrderItem.order_id)
            .where(
                ShopOrderItem.product_id.in_(product_ids),
                ShopOrder.status != ShopOrderStatus.CANCELLED,
            )
            .group_by(ShopOrderItem.product_id)
        )
        return {pid: ProductStats(int(n), int(rev)) for pid, n, rev in rows.all()}

    async def archive(self, admin: Principal, product_id: uuid.UUID) -> Product:
        """ProductNotFound (404); HasPendingOrders (400) while unfinished orders hold it."""
        products = ProductService(self._db)
        row = await products.get(product_id)
        if row.status == ProductStatus.ARCHIVED and row.deleted_at is not None:
            return row  # deleting again changes nothing (and checks nothing)
        unfinished = await self._db.scalar(
            select(func.count())
            .select_from(ShopOrderItem)
            .join(ShopOrder, ShopOrder.id == ShopOrderItem.order_id)
            .where(
                ShopOrderItem.product_id == row.id,
                ShopOrder.status.in_(UNFINISHED_ORDER_STATUSES),
            )
        )
        if unfinished:
            raise HasPendingOrders(details={"orders": [str(unfinished)]})
        return await products.archive(admin, product_id)


def _out_of_stock(product: Product, quantity: int) -> OutOfStock:
    return OutOfStock(
        f"Not enough stock of {product.name}: {quantity} wanted",
        details={"productId": [str(product.id)]},
    )


@dataclass
class Draft:
    """An order being placed: built from the catalogue, not saved yet."""

    order: ShopOrder
    items: list[tuple[ShopOrderItem, Product]]
    numbered: bool = False


class ShopOrderService:
    """Never commits: the caller's transaction does."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self._db = session
        self._settings = settings
        self._audit = AuditService(session)

    async def _next_number(self, year: int) -> str:
        """`ORD-<year>-<8 digits>`. PostgreSQL takes the number from a sequence: a counter
        row would stay locked until the order's commit, and every checkout would wait for
        the one before it (a number of a rolled back order is not reused). SQLite has one
        writer at a time anyway: its counter row per year."""
        if self._db.get_bind().dialect.name == "postgresql":
            value = int(await self._db.scalar(text("SELECT nextval('shop_order_number_seq')")))
            return f"ORD-{year}-{value:08d}"
        stmt = upsert(
            self._db,
            OrderNumberCounter,
            {"year": year, "last_value": 1},
            key=["year"],
            add=["last_value"],
        ).returning(OrderNumberCounter.last_value)
        value = int((await self._db.execute(stmt)).scalar_one())
        return f"ORD-{year}-{value:08d}"

    async def place(
        self,
        user_id: uuid.UUID,
        lines: list[OrderLine],
        shipping_method: ShippingMethod = ShippingMethod.STANDARD,
    ) -> ShopOrder:
        """A member's order, PENDING_PAYMENT (`draft`, then `submit`)."""
        return await self.submit(await self.draft(user_id, lines, shipping_method))

    async def draft(
        self,
        user_id: uuid.UUID,
        lines: list[OrderLine],
        shipping_method: ShippingMethod = ShippingMethod.STANDARD,
    ) -> Draft:
        """The order at the catalogue's prices, not saved and without its number yet: only
        reads. ProductNotAvailable for a product that is not ACTIVE."""
        if not lines or any(ln.quantity < 1 for ln in lines):
            raise ProductNotAvailable(details={"items": ["at least one item, quantity >= 1"]})
        now = clock.now()
        items: list[tuple[ShopOrderItem, Product]] = []
        for line in sorted(lines, key=lambda ln: ln.product_id):
            product = await self._db.get(Product, line.product_id)
            if product is None or product.status != ProductStatus.ACTIVE:
                raise ProductNotAvailable(details={"productId": [str(line.product_id)]})
            # Sold out already: refused before a payment is opened for it (`submit` takes
            # the stock for real).
            if product.track_inventory and (product.stock_quantity or 0) < line.quantity:
                raise _out_of_stock(product, line.quantity)
            item = ShopOrderItem(
                id=new_id(),
                product_id=product.id,
                quantity=line.quantity,
                unit_price_minor=product.price_minor,
                line_total_minor=product.price_minor * line.quantity,
                commission_bp=product.commission_bp,
                career_points_bp=product.career_points_bp,
            )
            items.append((item, product))
        order = ShopOrder(
            id=new_id(),
            user_id=user_id,
            status=S.PENDING_PAYMENT,
            payment_status=PaymentStatus.PENDING,
            shipping_method=shipping_method,
            currency=self._settings.currency,
            item_count=sum(i.quantity for i, _ in items),
            total_minor=sum(i.line_total_minor for i, _ in items),
            created_at=now,
            updated_at=now,
        )
        return Draft(order, items)

    async def number(self, draft: Draft) -> str:
        """Gives the draft its order number (before its payment is opened, which names it)."""
        draft.order.order_number = await self._next_number(draft.order.created_at.year)
        draft.numbered = True
        return draft.order.order_number

    async def submit(self, draft: Draft) -> ShopOrder:
        """Saves the draft and takes its stock, last: a product's row stays locked by its
        conditional UPDATE until the commit, and every order of that product waits for it.
        OutOfStock (naming the product) when a tracked stock would go below zero, so
        concurrent orders never oversell (the caller's transaction rolls back)."""
        order = draft.order
        if not draft.numbered:
            await self.number(draft)
        self._db.add(order)
        await self._db.flush()
        for item, _ in draft.items:
            item.order_id = order.id
            self._db.add(item)
        await self._db.flush()
        await publish(
            self._db,
            ShopOrderPlaced(
                order_id=order.id,
                user_id=order.user_id,
                status=str(order.status),
                payment_status=str(order.payment_status),
                total_minor=order.total_minor,
            ),
        )
        products = ProductService(self._db)
        for item, product in draft.items:
            if not await products.reserve_stock(product, item.quantity):
                raise _out_of_stock(product, item.quantity)
        return order

    async def lock(self, order_id: uuid.UUID, *, payment_first: bool = False) -> ShopOrder:
        """The order row, locked and fresh; `payment_first`: its payment's row before it
        (`PaymentService.lock`), for a cancel, which closes or refunds the payment."""
        if payment_first:
            payment_id = await self._db.scalar(
                select(ShopOrder.payment_id).where(ShopOrder.id == order_id)
            )
            if payment_id is not None:
                await PaymentService.lock(self._db, payment_id)
        row = await self._db.scalar(
            select(ShopOrder)
            .where(ShopOrder.id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise ShopOrderNotFound()
        return row

    async def pay(
        self,
        order_id: uuid.UUID,
        payment_method: str = DEFAULT_PAYMENT_METHOD,
        *,
        book_later: bool = False,
    ) -> ShopOrder:
        """Payment received: PAID, and the commission engine runs (once: the order row is
        locked and must still be PENDING_PAYMENT); `book_later`: right after this
        transaction commits, as for a payment's webhook (`pay_pending`)."""
        return await self._move(order_id, S.PAID, None, payment_method, book_later=book_later)

    async def pay_pending(self, order_id: uuid.UUID, payment_id: uuid.UUID) -> ShopOrder | None:
        """The order waiting for this payment becomes PAID by one conditional UPDATE (of
        concurrent deliveries, and of a payment and a cancel, one moves it), its sale
        booked after the commit (`CommissionEngine.defer`); None if it was not waiting."""
        now = clock.now()
        row = await self._db.scalar(
            update(ShopOrder)
            .where(
                ShopOrder.id == order_id,
                ShopOrder.status == S.PENDING_PAYMENT,
                ShopOrder.payment_id == payment_id,
            )
            .values(
                status=S.PAID,
                payment_status=PaymentStatus.PAID,
                paid_at=now,
                updated_at=now,
                updated_by=None,
            )
            .returning(ShopOrder)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if row is None:
            return None
        before = (S.PENDING_PAYMENT.value, PaymentStatus.PENDING.value)
        await self._after_move(row, before, DEFAULT_PAYMENT_METHOD, book_later=True)
        return row

    async def refund_late_payment(self, order_id: uuid.UUID, payment_id: uuid.UUID) -> bool:
        """Its payment succeeded after the order was cancelled (or expired), and goes back:
        the order's payment status says REFUNDED, not CANCELLED (money was taken). False
        when the order is not such a one."""
        row = await self._db.scalar(
            update(ShopOrder)
            .where(
                ShopOrder.id == order_id,
                ShopOrder.status == S.CANCELLED,
                ShopOrder.payment_status == PaymentStatus.CANCELLED,
                ShopOrder.payment_id == payment_id,
            )
            .values(payment_status=PaymentStatus.REFUNDED, updated_at=clock.now())
            .returning(ShopOrder)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if row is None:
            return False
        before = (S.CANCELLED.value, PaymentStatus.CANCELLED.value)
        await publish(self._db, _moved(row, before, DEFAULT_PAYMENT_METHOD))
        return True

    async def cancel(
        self, order_id: uuid.UUID, admin: Principal | None = None, *, payment_first: bool = True
    ) -> ShopOrder:
        """CANCELLED (a paid order refunded). `payment_first=False` only when the order row
        is locked already and its payment is past its expiry (closing it then takes no
        lock): the expiry job."""
        return await self._move(order_id, S.CANCELLED, admin, payment_first=payment_first)

    async def _move(
        self,
        order_id: uuid.UUID,
        target: ShopOrderStatus,
        admin: Principal | None,
        payment_method: str = DEFAULT_PAYMENT_METHOD,
        *,
        book_later: bool = False,
        payment_first: bool = False,
    ) -> ShopOrder:
        row = await self.lock(order_id, payment_first=payment_first)
        current = ShopOrderStatus(row.status)
        if target not in TRANSITIONS[current]:
            raise InvalidTransition(
                details={"status": [f"cannot go from {current.value} to {target.value}"]}
            )
        before = (str(row.status), str(row.payment_status))
        now = clock.now()
        row.status = target
        row.updated_at = now
        row.updated_by = admin.user_id if admin else None
        if target is S.PAID:
            row.payment_status = PaymentStatus.PAID
            row.paid_at = now
        elif target is S.CANCELLED:
            row.cancelled_at = now
            if row.payment_status == PaymentStatus.PAID:
                row.payment_status = PaymentStatus.REFUNDED
                if row.payment_id is not None:
                    # Decided here, sent to the provider by `process_refunds` after the
                    # commit (never a provider call inside this transaction).
                    await PaymentService.request_refund(self._db, row.payment_id)
                engine = CommissionEngine(self._db, self._settings)
                # A sale whose commissions were not booked yet has nothing to reverse.
                if not await engine.forget_pending(SourceType.ORDER, row.id):
                    await engine.reverse_source(
                        SourceType.ORDER,
                        row.id,
                        admin,
                        buyer_user_id=row.user_id,
                        volume_minor=row.total_minor,
                    )
            else:
                row.payment_status = PaymentStatus.CANCELLED
                if row.payment_id is not None:
                    # Its page takes no money any more (a late success is refunded).
                    await PaymentService.close(self._db, row.payment_id)
            await self._restock(row.id)
        await self._db.flush()
        await self._after_move(row, before, payment_method, book_later=book_later)
        return row

    async def _after_move(
        self,
        row: ShopOrder,
        before: tuple[str, str],
        payment_method: str,
        *,
        book_later: bool = False,
    ) -> None:
        """What follows a saved move: its event, and for a payment its sale (booked now,
        or after the commit: `book_later`)."""
        lines = await self._paid_lines(row.id) if row.status == S.PAID else ()
        await publish(self._db, _moved(row, before, payment_method, lines))
        if row.status != S.PAID:
            return
        # Last: the sale locks the buyer's whole upline until the commit, and every other
        # sale under it waits for those locks.
        engine = CommissionEngine(self._db, self._settings)
        sale = Sale(
            source_type=SourceType.ORDER,
            source_id=row.id,
            buyer_user_id=row.user_id,
            currency=row.currency,
            lines=[
                SaleLine(ln.amount_minor, ln.commission_bp, ln.career_points_bp) for ln in lines
            ],
        )
        if book_later:
            await engine.defer(sale)
        else:
            await engine.on_sale(sale)

    async def _paid_lines(self, order_id: uuid.UUID) -> tuple[PaidLine, ...]:
        """The order's lines with their products' categories, in one statement."""
        rows = await self._db.execute(
            select(
                ShopOrderItem.product_id,
                Product.category_id,
                ShopOrderItem.quantity,
                ShopOrderItem.line_total_minor,
                ShopOrderItem.commission_bp,
                ShopOrderItem.career_points_bp,
            )
            .join(Product, Product.id == ShopOrderItem.product_id)
            .where(ShopOrderItem.order_id == order_id)
            .order_by(ShopOrderItem.id)
        )
        return tuple(PaidLine(*row) for row in rows)

    async def _restock(self, order_id: uuid.UUID) -> None:
        items = await self._db.scalars(
            select(ShopOrderItem).where(ShopOrderItem.order_id == order_id)
        )
        products = ProductService(self._db)
        for item in sorted(items, key=lambda i: i.product_id):
            await products.release_stock(item.product_id, item.quantity)

    @staticmethod
    async def expire_unpaid(
        maker: async_sessionmaker[AsyncSession], settings: Settings, batch: int = 200
    ) -> int:
        """Cancels the orders still PENDING_PAYMENT past their payment expiry and puts their
        stock back, in batches. Safe in every process at once (SKIP LOCKED), and against a
        payment arriving at the same moment: both take the order row's lock."""
        expired = 0
        while True:
            async with maker.begin() as db:
                ids = list(
                    await db.scalars(
                        select(ShopOrder.id)
                        .where(
                            ShopOrder.status == S.PENDING_PAYMENT,
                            ShopOrder.payment_expires_at <= clock.now(),
                        )
                        .order_by(ShopOrder.payment_expires_at)
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                service = ShopOrderService(db, settings)
                audit = AuditService(db)
                for order_id in ids:
                    row = await service.cancel(order_id, payment_first=False)
                    audit.record_by(
                        None,
                        "ORDER_EXPIRED",
                        "shop_order",
                        row.id,
                        previous={"status": S.PENDING_PAYMENT.value},
                        new={
                            "status": str(row.status),
                            "paymentStatus": str(row.payment_status),
                        },
                    )
            expired += len(ids)
            if len(ids) < batch:
                return expired

    async def admin_update(
        self,
        admin: Principal,
        order_id: uuid.UUID,
        status: ShopOrderStatus | None,
        fields: dict[str, str | None],
    ) -> ShopOrder:
        """Status transition (InvalidTransition, 400 VALIDATION_ERROR), tracking and note."""
        row = await self.lock(order_id, payment_first=status == S.CANCELLED)
        previous = {
            "status": str(row.status),
            "trackingNumber": row.tracking_number,
            "trackingUrl": row.tracking_url,
            "note": row.admin_note,
        }
        if status is not None and status != row.status:
            row = await self._move(order_id, status, admin)
        elif status is not None:
            raise InvalidTransition(details={"status": [f"order is already {row.status}"]})
        if "tracking_number" in fields:
            row.tracking_number = fields["tracking_number"]
        if "tracking_url" in fields:
            row.tracking_url = fields["tracking_url"]
        if "note" in fields:
            row.admin_note = fields["note"]
        row.updated_at = clock.now()
        row.updated_by = admin.user_id
        await self._db.flush()
        new = {
            "status": str(row.status),
            "trackingNumber": row.tracking_number,
            "trackingUrl": row.tracking_url,
            "note": row.admin_note,
        }
        changed = [k for k in new if new[k] != previous[k]]
        self._audit.record(
            admin,
            "ORDER_UPDATED",
            "shop_order",
            row.id,
            previous={k: previous[k] for k in changed},
            new={k: new[k] for k in changed},
        )
        return row

    @staticmethod
    def _filters(f: OrderFilters, *, with_status: bool) -> dict[str, Any]:
        return {
            "status": f.status if with_status else None,
            "payment_status": f.payment_status if with_status else None,
            "user_id": f.user_id,
            "date_from": f.date_from,
            "date_to": f.date_to,
            "search": f.search or None,
        }

    async def list_page(
        self, f: OrderFilters, page: int, page_size: int
    ) -> tuple[list[tuple[OrderFields, UserRef]], int, OrderSummary]:
        """Newest first; the summary counts every filter but the two status filters."""
        summary, by_status = await self._summary(f)
        total: int | None = None
        if f.status is None and f.payment_status is None:
            total = summary.total_orders
        elif f.only_statuses:
            total = sum(
                n
                for (st, pst), n in by_status.items()
                if (f.status is None or st == f.status)
                and (f.payment_status is None or pst == f.payment_status)
            )
        found = await LISTING.page(
            self._db,
            self._filters(f, with_status=True),
            page=page,
            page_size=page_size,
            total=total,
        )
        return (
            [
                (
                    cast(OrderFields, r),
                    UserRef(
                        id=r.user_id,
                        email=r.email,
                        name=display_name(r.first_name, r.last_name, r.email),
                    ),
                )
                for r in found.rows
            ],
            found.total,
            summary,
        )

    async def _summary(self, f: OrderFilters) -> tuple[OrderSummary, dict[tuple[str, str], int]]:
        params: dict[str, Any] = {}
        if f.only_statuses:
            stmt: Any = _TOTALS
        else:
            given, params = LISTING.bind(self._filters(f, with_status=False))
            stmt = LISTING.statement("sums_by_status", given, _sums_by_status)
        by_status: dict[tuple[str, str], int] = {}
        revenue = 0
        for status, pay_status, n, amount in await (await self._db.connection()).execute(
            stmt, params
        ):
            by_status[(str(status), str(pay_status))] = int(n or 0)
            if pay_status == PaymentStatus.PAID:
                revenue += int(amount or 0)

        def count(status: ShopOrderStatus) -> int:
            return sum(n for (st, _), n in by_status.items() if st == status)

        return (
            OrderSummary(
                total_orders=sum(by_status.values()),
                total_revenue_minor=revenue,
                pending_payment=count(S.PENDING_PAYMENT),
                processing=count(S.PROCESSING),
                shipped=count(S.SHIPPED),
            ),
            by_status,
        )
