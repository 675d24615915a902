"""The partner dashboard's orders: /partner/orders/..."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.pagination import Page, set_total
from iwm.core.schemas import PlausibleDate, PlausibleDateTime
from iwm.modules.orders.errors import OrderNotFound
from iwm.modules.orders.models import PrintStatus
from iwm.modules.orders.schemas import DailyCounters, MarkRequest, OrderFilters, OrderRead
from iwm.modules.orders.service import OrderService
from iwm.modules.users.deps import PartnerUser

router = APIRouter(prefix="/partner/orders", tags=["partner: orders"])


async def order_service(session: SessionDep, resources: ResourcesDep) -> OrderService:
    return OrderService(session, resources.settings, resources.storage)


OrderServiceDep = Annotated[OrderService, Depends(order_service)]


async def order_filters(
    status: PrintStatus | None = None,
    date_from: Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateTo")] = None,
    kiosk_id: Annotated[uuid.UUID | None, Query(alias="kioskId")] = None,
    customer_name: Annotated[str | None, Query(alias="customerName", max_length=200)] = None,
    customer_email: Annotated[str | None, Query(alias="customerEmail", max_length=320)] = None,
) -> OrderFilters:
    return OrderFilters(
        status=status,
        date_from=date_from,
        date_to=date_to,
        kiosk_id=kiosk_id,
        customer_name=customer_name,
        customer_email=customer_email,
    )


@router.get("/new")
async def new_orders(partner: PartnerUser, orders: OrderServiceDep) -> list[OrderRead]:
    """Orders for the "new orders" screen: unprinted (3 h) and just printed (15 min)."""
    return await orders.views(await orders.new_orders(partner))


@router.get("/daily-counters")
async def daily_counters(
    partner: PartnerUser,
    orders: OrderServiceDep,
    day: Annotated[PlausibleDate | None, Query(alias="date")] = None,
) -> DailyCounters:
    """Today's order counts `{all, printed}`, in each shop's time zone."""
    total, printed = await orders.daily_counters(partner, day)
    return DailyCounters(all=total, printed=printed)


@router.get("")
async def list_orders(
    partner: PartnerUser,
    orders: OrderServiceDep,
    page: Page,
    response: Response,
    filters: Annotated[OrderFilters, Depends(order_filters)],
) -> list[OrderRead]:
    """Orders of the last 30 days, filtered and paged (total in X-Total-Count)."""
    rows, total = await orders.history(partner, filters, page.page, page.page_size)
    set_total(response, total)
    return await orders.views(rows)


@router.get("/{order_id}", responses=error_responses(OrderNotFound))
async def get_order(
    order_id: uuid.UUID, partner: PartnerUser, orders: OrderServiceDep
) -> OrderRead:
    """One order."""
    return (await orders.views([await orders.get_owned(partner, order_id)]))[0]


@router.post("/{order_id}/mark", responses=error_responses(OrderNotFound))
async def mark_order(
    order_id: uuid.UUID, body: MarkRequest, partner: PartnerUser, orders: OrderServiceDep
) -> OrderRead:
    """Mark an order printed or not printed."""
    return (await orders.views([await orders.mark(partner, order_id, body.status)]))[0]
