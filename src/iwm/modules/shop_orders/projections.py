"""`shop_order_totals`: count and total sum per (status, payment status), the unfiltered
summary of the admin list, kept by the shop order events."""

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.counters import bump, recount
from iwm.core.events import Projection, Snapshot, Subscriptions, summed
from iwm.modules.shop_orders.events import ShopOrderEvent, ShopOrderMoved
from iwm.modules.shop_orders.models import ShopOrder, ShopOrderTotal


async def _moved(session: AsyncSession, event: ShopOrderEvent) -> None:
    if isinstance(event, ShopOrderMoved):
        key = {"status": event.before_status, "payment_status": event.before_payment_status}
        await bump(session, ShopOrderTotal, key, -1, -event.total_minor)
    key = {"status": event.status, "payment_status": event.payment_status}
    await bump(session, ShopOrderTotal, key, 1, event.total_minor)


def _subscribe(bus: Subscriptions) -> None:
    bus.on(ShopOrderEvent, _moved)


async def _rebuild(session: AsyncSession) -> None:
    await recount(
        session, ShopOrderTotal, [ShopOrder.status, ShopOrder.payment_status], ShopOrder.total_minor
    )


async def _snapshot(session: AsyncSession) -> Snapshot:
    t = ShopOrderTotal
    rows = await summed(session, (t.status, t.payment_status), (t.row_count, t.amount_minor))
    return {"shop_order_totals": rows}


SHOP_ORDER_TOTALS = Projection(
    name="shop_order_totals",
    owner="shop_orders",
    subscribe=_subscribe,
    rebuild=_rebuild,
    snapshot=_snapshot,
)
