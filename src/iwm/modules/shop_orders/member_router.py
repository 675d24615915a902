"""Members' shop orders: /api/v1/orders (SPEC §8)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, status
from fastapi.responses import JSONResponse

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.idempotency import (
    IdempotencyKeyConflict,
    IdempotencyKeyInUse,
    RequiredIdempotencyKey,
    fingerprint,
    keep,
    replay,
)
from iwm.core.money import from_minor
from iwm.core.pagination import Page
from iwm.core.resources import Resources
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.payments.deps import ProviderDep
from iwm.modules.payments.models import Payment
from iwm.modules.payments.provider import PaymentProvider
from iwm.modules.payments.service import PaymentService
from iwm.modules.shop_orders.checkout import CheckoutService, OrderView
from iwm.modules.shop_orders.errors import (
    NotCancellable,
    OutOfStock,
    ProductNotAvailable,
    ShopOrderNotFound,
)
from iwm.modules.shop_orders.models import ShippingMethod, ShopOrderStatus
from iwm.modules.shop_orders.schemas import (
    MemberOrder,
    MemberOrderItem,
    OrderCreate,
    OrderPayment,
    OrderPlaced,
    ShippingAddress,
)
from iwm.modules.shop_orders.service import OrderLine
from iwm.modules.users.deps import ActiveMember, CurrentUser
from iwm.modules.users.errors import AddressNotFound, EmailNotVerified

router = APIRouter(
    prefix="/api/v1/orders",
    tags=["member: orders"],
    responses=error_responses(Unauthorized, RateLimited),
)


async def checkout_service(session: SessionDep, resources: ResourcesDep) -> CheckoutService:
    return CheckoutService(session, resources.settings)


CheckoutDep = Annotated[CheckoutService, Depends(checkout_service)]


def payment_read(p: Payment) -> OrderPayment:
    return OrderPayment(
        id=p.id, status=p.status, checkout_url=p.checkout_url, expires_at=p.expires_at
    )


def order_read(view: OrderView) -> MemberOrder:
    o = view.order
    return MemberOrder(
        id=o.id,
        order_number=o.order_number,
        status=o.status,
        payment_status=o.payment_status,
        items=[
            MemberOrderItem(
                product_id=i.product_id,
                name=name,
                quantity=i.quantity,
                unit_price=from_minor(i.unit_price_minor),
                total=from_minor(i.line_total_minor),
            )
            for i, name in view.items
        ],
        item_count=o.item_count,
        total=from_minor(o.total_minor),
        currency=o.currency,
        shipping_method=o.shipping_method,
        shipping_address=(
            ShippingAddress.model_validate(o.shipping_address) if o.shipping_address else None
        ),
        tracking_number=o.tracking_number,
        tracking_url=o.tracking_url,
        payment=payment_read(view.payment) if view.payment is not None else None,
        created_at=o.created_at,
        updated_at=o.updated_at,
        paid_at=o.paid_at,
        cancelled_at=o.cancelled_at,
    )


async def send_refunds(resources: Resources, provider: PaymentProvider) -> None:
    """After the commit: the refunds decided by the request go to the provider now rather
    than at the job's next round (which retries whatever fails here)."""
    await PaymentService.process_refunds(resources.sessionmaker, provider)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[OrderPlaced],
    responses=error_responses(
        ValidationFailed,
        EmailNotVerified,
        AddressNotFound,
        ProductNotAvailable,
        OutOfStock,
        IdempotencyKeyConflict,
        IdempotencyKeyInUse,
    ),
)
async def place_order(
    body: OrderCreate,
    member: ActiveMember,
    checkout: CheckoutDep,
    session: SessionDep,
    provider: ProviderDep,
    idempotency_key: RequiredIdempotencyKey,
) -> Envelope[OrderPlaced] | JSONResponse:
    """Order from the catalogue: stock is reserved, the answer carries the checkout URL. The
    `Idempotency-Key` header is required (400 VALIDATION_ERROR naming it otherwise)."""
    await checkout.lock_member(member.user_id)
    scope = f"member:{member.user_id}:orders"
    request_print = fingerprint(body.model_dump_json())
    kept = await replay(session, scope, idempotency_key, request_print, IdempotencyKeyConflict)
    if kept is not None:
        return kept
    view = await checkout.place(
        member,
        [OrderLine(i.product_id, i.quantity) for i in body.items],
        body.shipping_address_id,
        ShippingMethod(body.shipping_method),
        provider,
    )
    assert view.payment is not None  # noqa: S101 (placed with its payment)
    answer = ok(OrderPlaced(order=order_read(view), payment=payment_read(view.payment)))
    await keep(
        session,
        scope,
        idempotency_key,
        request_print,
        201,
        answer.model_dump(mode="json", by_alias=True),
    )
    return answer


@router.get("", responses=error_responses(ValidationFailed))
async def my_orders(
    member: CurrentUser,
    checkout: CheckoutDep,
    page: Page,
    order_status: Annotated[ShopOrderStatus | Literal["ALL"] | None, Query(alias="status")] = None,
) -> Envelope[list[MemberOrder]]:
    """My orders, newest first."""
    wanted = None if order_status in (None, "ALL") else ShopOrderStatus(order_status)
    views, total = await checkout.mine(member.user_id, wanted, page.page, page.page_size)
    return ok(
        [order_read(v) for v in views],
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.get("/{order_id}", responses=error_responses(ShopOrderNotFound))
async def my_order(
    order_id: uuid.UUID, member: CurrentUser, checkout: CheckoutDep
) -> Envelope[MemberOrder]:
    """One of my orders, with its payment."""
    return ok(order_read(await checkout.my_order(member.user_id, order_id)))


@router.post("/{order_id}/cancel", responses=error_responses(ShopOrderNotFound, NotCancellable))
async def cancel_order(
    order_id: uuid.UUID,
    member: CurrentUser,
    checkout: CheckoutDep,
    resources: ResourcesDep,
    provider: ProviderDep,
    background: BackgroundTasks,
) -> Envelope[MemberOrder]:
    """Cancel before shipping: the stock goes back, a paid order is refunded."""
    view = await checkout.cancel(member, order_id)
    if view.payment is not None and view.order.paid_at is not None:
        background.add_task(send_refunds, resources, provider)
    return ok(order_read(view))
