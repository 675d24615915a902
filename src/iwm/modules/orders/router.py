"""The partner dashboard's orders: /partner/orders/..."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.pagination import Page, set_total
from iwm.core.schemas import PlausibleDate, PlausibleDateTime
from iwm.modules.orders.errors import OrderNotFound
from iwm.modules.orders.models import PrintStatus
from iwm.modules.orders.schemas import DailyCounters, MarkRequest, OrderFilters, OrderRead
from iwm.modules.orders.service import OrderService
from iwm.modules.users.deps import PartnerUser

router = APIRouter(prefix="/partner/orders", tags=["partner: orders"])
JSON = "application/json"


async def order_service(session: SessionDep, resources: ResourcesDep) -> OrderService:
    return OrderService(session, resources.settings, resources.storage)


async def order_reader(session: ReadSessionDep, resources: ResourcesDep) -> OrderService:
    """For the lists, which only read: no transaction around their statements."""
    return OrderService(session, resources.settings, resources.storage)


OrderServiceDep = Annotated[OrderService, Depends(order_service)]
OrderReaderDep = Annotated[OrderService, Depends(order_reader)]


async def order_filters(
    status: PrintStatus | None = None,
    date_from: Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[PlausibleDate | PlausibleDateTime | None, Query(alias="dateTo")] = None,
    kiosk_id: Annotated[uuid.UUID | None, Query(alias="kioskId")] = None,
    customer_name: Annotated[str | None, Query(alias="customerName", max_length=200)] = None,
    customer_email: Annotated[str | None, Query(alias="customerEmail", max_length=320)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="One search box: a name or email (part of it), a phone number "
            "(3 digits or more of it) or an order number (42 or #42).",
        ),
    ] = None,
) -> OrderFilters:
    return OrderFilters(
        status=status,
        date_from=date_from,
        date_to=date_to,
        kiosk_id=kiosk_id,
        customer_name=customer_name,
        customer_email=customer_email,
        q=q,
    )


@router.get("/new", response_model=list[OrderRead])
async def new_orders(partner: PartnerUser, orders: OrderReaderDep) -> Response:
    """Orders for the "new orders" screen: unprinted (3 h) and just printed (15 min)."""
    # The screens poll this: the JSON is written from the rows (see orders_json).
    return Response(await orders.json(await orders.new_orders(partner)), media_type=JSON)


@router.get("/daily-counters")
async def daily_counters(
    partner: PartnerUser,
    orders: OrderServiceDep,
    day: Annotated[PlausibleDate | None, Query(alias="date")] = None,
) -> DailyCounters:
    """Today's order counts `{all, printed}`, in each shop's time zone."""
    total, printed = await orders.daily_counters(partner, day)
    return DailyCounters(all=total, printed=printed)


@router.get("", response_model=list[OrderRead])
async def list_orders(
    partner: PartnerUser,
    orders: OrderReaderDep,
    page: Page,
    filters: Annotated[OrderFilters, Depends(order_filters)],
) -> Response:
    """Orders of the last 30 days, filtered and paged (total in X-Total-Count)."""
    rows, total = await orders.history(partner, filters, page.page, page.page_size)
    response = Response(await orders.json(rows), media_type=JSON)
    set_total(response, total)
    return response


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
