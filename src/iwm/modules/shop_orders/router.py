"""Admin shop orders: /api/v1/admin/orders."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Query

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.mail import MailMessage
from iwm.core.money import from_minor
from iwm.core.pagination import Page
from iwm.core.query import DateFrom, DateTo, SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.params import date_range
from iwm.modules.shop_orders.errors import InvalidTransition, ShopOrderNotFound
from iwm.modules.shop_orders.models import PaymentStatus, ShopOrderStatus
from iwm.modules.shop_orders.schemas import (
    AdminOrder,
    AdminOrdersPage,
    OrderSummaryRead,
    OrderUpdate,
    OrderUpdated,
)
from iwm.modules.shop_orders.service import OrderFilters, ShopOrderService
from iwm.modules.users.deps import AdminUser
from iwm.modules.users.models import User

router = APIRouter(prefix="/api/v1/admin/orders", tags=["admin: shop orders"])


@router.get("")
async def list_orders(
    admin: AdminUser,
    session: ReadSessionDep,
    resources: ResourcesDep,
    page: Page,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    status: Annotated[ShopOrderStatus | Literal["ALL"] | None, Query()] = None,
    payment_status: Annotated[PaymentStatus | None, Query(alias="paymentStatus")] = None,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    search: Annotated[SearchText | None, Query(max_length=200)] = None,
) -> Envelope[AdminOrdersPage]:
    """Shop orders, newest first, with a summary."""
    lower, upper = date_range(date_from, date_to)
    filters = OrderFilters(
        status=None if status == "ALL" else status,
        payment_status=payment_status,
        user_id=user_id,
        date_from=lower,
        date_to=upper,
        search=search.strip() if search and search.strip() else None,
    )
    rows, total, s = await ShopOrderService(session, resources.settings).list_page(
        filters, page.page, page.page_size
    )
    orders = [
        AdminOrder(
            id=o.id,
            order_number=o.order_number,
            user=u,
            status=o.status,
            payment_status=o.payment_status,
            item_count=o.item_count,
            total=from_minor(o.total_minor),
            currency=o.currency,
            shipping_method=o.shipping_method,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )
        for o, u in rows
    ]
    summary = OrderSummaryRead(
        total_orders=s.total_orders,
        total_revenue=from_minor(s.total_revenue_minor),
        pending_payment=s.pending_payment,
        processing=s.processing,
        shipped=s.shipped,
    )
    return ok(
        AdminOrdersPage(orders=orders, summary=summary),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.patch("/{order_id}", responses=error_responses(ShopOrderNotFound, InvalidTransition))
async def update_order(
    order_id: uuid.UUID,
    body: OrderUpdate,
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
    background: BackgroundTasks,
) -> Envelope[OrderUpdated]:
    """Move an order along, set tracking and a note; optionally mail the customer."""
    fields: dict[str, str | None] = {
        name: getattr(body, name)
        for name in ("tracking_number", "tracking_url", "note")
        if name in body.model_fields_set
    }
    status = ShopOrderStatus(body.status) if body.status is not None else None
    row = await ShopOrderService(session, resources.settings).admin_update(
        admin, order_id, status, fields
    )
    if body.notify_customer:
        customer = await session.get(User, row.user_id)
        if customer is not None:
            lines = [f"Your order {row.order_number} is now {row.status}."]
            if row.tracking_number:
                lines.append(f"Tracking number: {row.tracking_number}")
            if row.tracking_url:
                lines.append(f"Track it at {row.tracking_url}")
            # Runs after the response, i.e. after the commit: a failed update mails nobody.
            background.add_task(
                resources.mail.send,
                MailMessage(
                    to=customer.email,
                    subject=f"Order {row.order_number}: {row.status}",
                    body="\n".join(lines),
                ),
            )
    return ok(
        OrderUpdated(
            id=row.id,
            order_number=row.order_number,
            status=row.status,
            tracking_number=row.tracking_number,
            updated_at=row.updated_at,
            updated_by=admin.display_name,
        )
    )
