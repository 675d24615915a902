"""`shop_order_totals`: count and total sum per (status, payment status), the unfiltered
summary of the admin list, kept by the shop order events."""

from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.counters import add_many, recount
from iwm.core.events import Projection, Snapshot, Subscriptions, summed
from iwm.modules.shop_orders.events import ShopOrderEvent, ShopOrderMoved
from iwm.modules.shop_orders.models import ShopOrder, ShopOrderTotal


async def _moved(session: AsyncSession, event: ShopOrderEvent) -> None:
    # Out of its old totals and into its new ones: one statement.
    totals: dict[tuple[str, str], dict[str, int]] = {}
    if isinstance(event, ShopOrderMoved):
        key = (event.before_status, event.before_payment_status)
        totals[key] = {"row_count": -1, "amount_minor": -event.total_minor}
    key = (event.status, event.payment_status)
    row = totals.setdefault(key, {"row_count": 0, "amount_minor": 0})
    row["row_count"] += 1
    row["amount_minor"] += event.total_minor
    await add_many(session, ShopOrderTotal, ("status", "payment_status"), totals)


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
