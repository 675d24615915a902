"""Kiosk photo orders: made by the kiosk, printed by the partner's shop."""

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.changes import shop_changed
from iwm.core.config import Settings
from iwm.core.db import count_where
from iwm.core.errors import ValidationFailed
from iwm.core.images import clean_photo
from iwm.core.listing import (
    Filter,
    Listing,
    SortOrder,
    at_least,
    below,
    by_value,
    clause,
    contains,
    equals,
    like_pattern,
    param,
)
from iwm.core.principal import Principal
from iwm.core.storage import PhotoStorage
from iwm.core.upsert import upsert
from iwm.modules.activity.models import ActivityEvent
from iwm.modules.activity.service import ActivityService
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.orders.errors import OrderNotFound
from iwm.modules.orders.models import Order, OrderNumber, PrintStatus
from iwm.modules.orders.schemas import (
    NewOrderForm,
    OrderFilters,
    OrderKiosk,
    OrderRead,
    orders_json,
)
from iwm.modules.shops.models import Shop


def _start_of(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _end_of(value: date | datetime) -> datetime:
    """A date means its whole day (inclusive); a datetime is taken as is."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


ORDER_PHOTO_PREFIX = "orders/"

# What a listed order shows, as plain columns: lists build their answers from these rows
# without loading ORM objects (see OrderRow).
ORDER_COLUMNS = (
    Order.id,
    Order.number,
    Order.customer_name,
    Order.customer_email,
    Order.customer_phone,
    Order.image_key,
    Order.thumbnail_key,
    Order.printed_at,
    Order.created_at,
    Order.kiosk_id,
    Kiosk.name.label("kiosk_name"),
    Kiosk.shop_id,
)
_OWNED_KIOSKS = (
    select(Kiosk.id)
    .join(Shop, Shop.id == Kiosk.shop_id)
    .where(Shop.partner_user_id == param("owner"))
)
_DIGITS = re.compile(r"\D")
MIN_PHONE_DIGITS = 3
MAX_NUMBER_DIGITS = 9


def _phone_digits(column: Any) -> Any:
    """The phone number's digits only, so that "050-123 4567" is found by "0501234567"."""
    for sign in (" ", "-", "(", ")", "+", "."):
        column = func.replace(column, sign, "")
    return column


def _search_params(text: str) -> dict[str, Any]:
    """One search box: a name or an email (substring), a phone number (its digits, local
    or international form), or an order number ("#42" or "42")."""
    # Without the national trunk prefix, a number typed the local way ("050-123 4567")
    # finds the one stored internationally ("+972 50-123-4567") and the local one alike.
    digits = _DIGITS.sub("", text).lstrip("0")
    bare = text.strip().lstrip("#").strip()
    return {
        "q": like_pattern(text),
        # Fewer digits would match most phone numbers: then it is no phone search (the
        # digits-only column never equals "-").
        "q_phone": like_pattern(digits) if len(digits) >= MIN_PHONE_DIGITS else "-",
        "q_number": int(bare) if bare.isdigit() and len(bare) <= MAX_NUMBER_DIGITS else -1,
    }


# A partner's orders: the orders of the kiosks in his shops.
HISTORY = Listing(
    rows=select(*ORDER_COLUMNS).join(Kiosk, Kiosk.id == Order.kiosk_id),
    key=Order.id,
    base=Order,
    filters=[
        clause("owner", Order.kiosk_id.in_(_OWNED_KIOSKS)),
        at_least("floor", Order.created_at),
        by_value(
            "status",
            lambda status: (
                Order.printed_at.is_not(None)
                if status is PrintStatus.PRINTED
                else Order.printed_at.is_(None)
            ),
        ),
        at_least("date_from", Order.created_at),
        below("date_to", Order.created_at),
        equals("kiosk_id", Order.kiosk_id),
        contains("customer_name", func.lower(Order.customer_name)),
        equals("customer_email", Order.customer_email),
        Filter(
            "q",
            or_(
                func.lower(Order.customer_name).like(param("q"), escape="\\"),
                Order.customer_email.like(param("q"), escape="\\"),
                _phone_digits(Order.customer_phone).like(param("q_phone"), escape="\\"),
                Order.number == param("q_number"),
            ),
            to_params=_search_params,
        ),
    ],
    sorts={"createdAt": Order.created_at},
    default_sort="createdAt",
    ids_first=False,
    key_order=SortOrder.ASC,
)


def _per_kiosk(*conditions: ColumnElement[bool], counted: Any = None) -> Any:
    """A count over one kiosk's orders, correlated to the kiosk row of the outer query.

    The screen's counters are per partner or shop, but counted kiosk by kiosk: a prepared
    statement's generic plan cannot know how wide a parameterised time range is, and for
    a statement over all orders it chose to walk the creation-time index across every
    kiosk of the network (500 ms on a million orders); per kiosk, the kiosk's own index
    bounds the walk whatever the plan."""
    return (
        select(func.count(counted) if counted is not None else func.count())
        .where(Order.kiosk_id == Kiosk.id, *conditions)
        .correlate(Kiosk)
        .scalar_subquery()
    )


_OLDER_UNPRINTED = (
    select(
        func.coalesce(
            func.sum(
                _per_kiosk(
                    Order.printed_at.is_(None),
                    Order.created_at >= param("floor"),
                    Order.created_at < param("unprinted_since"),
                )
            ),
            0,
        )
    )
    .select_from(Kiosk)
    .join(Shop, Shop.id == Kiosk.shop_id)
    .where(Shop.partner_user_id == param("owner"))
)
_IN_DAY = (Order.created_at >= param("start"), Order.created_at < param("end"))
_DAILY_COUNTERS = select(
    func.coalesce(func.sum(_per_kiosk(*_IN_DAY)), 0),
    func.coalesce(func.sum(_per_kiosk(*_IN_DAY, counted=Order.printed_at)), 0),
).where(Kiosk.shop_id == param("shop"))

# The "new orders" screen: per kiosk of the partner, only orders whose last event
# (printing, else creation) is recent.
_NEW_ORDERS = (
    select(*ORDER_COLUMNS)
    .join(Kiosk, Kiosk.id == Order.kiosk_id)
    .where(
        Order.kiosk_id.in_(_OWNED_KIOSKS),
        or_(
            and_(Order.printed_at.is_(None), Order.created_at >= param("unprinted_since")),
            Order.printed_at >= param("printed_since"),
        ),
        # Implied by the condition above; lets ix_orders_kiosk_activity narrow the scan to
        # each kiosk's recent rows.
        func.coalesce(Order.printed_at, Order.created_at) >= param("active_since"),
    )
    .order_by(Order.created_at.desc(), Order.id)
    .limit(bindparam("limit", type_=Integer, literal_execute=True))
)


class OrderRow(NamedTuple):
    """An order as lists show it (the columns of ORDER_COLUMNS, in their order)."""

    id: uuid.UUID
    number: int
    customer_name: str
    customer_email: str
    customer_phone: str
    image_key: str
    thumbnail_key: str | None
    printed_at: datetime | None
    created_at: datetime
    kiosk_id: uuid.UUID
    kiosk_name: str
    shop_id: uuid.UUID

    @property
    def status(self) -> PrintStatus:
        return PrintStatus.PRINTED if self.printed_at else PrintStatus.NOT_PRINTED

    @classmethod
    def of(cls, order: Order, kiosk: Kiosk) -> "OrderRow":
        return cls(
            order.id,
            order.number,
            order.customer_name,
            order.customer_email,
            order.customer_phone,
            order.image_key,
            order.thumbnail_key,
            order.printed_at,
            order.created_at,
            order.kiosk_id,
            kiosk.name,
            kiosk.shop_id,
        )


@dataclass(frozen=True, slots=True)
class OrderCard:
    """An order as the dashboard shows it: its row (read through) and its photo's links."""

    row: OrderRow
    image_url: str
    thumbnail_url: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


class OrderService:
    """Never commits: the request's transaction does."""

    def __init__(self, session: AsyncSession, settings: Settings, storage: PhotoStorage) -> None:
        self._db = session
        self._settings = settings
        self._storage = storage
        self._activity = ActivityService(session)

    # -- reading ------------------------------------------------------------------------

    async def views(self, rows: Sequence[OrderRow]) -> list[OrderRead]:
        urls = await self._storage.urls([o.image_key for o in rows])
        return [
            OrderRead(
                id=o.id,
                number=o.number,
                customer_name=o.customer_name,
                customer_email=o.customer_email or None,
                customer_phone=o.customer_phone or None,
                status=o.status,
                image_url=url,
                printed_at=o.printed_at,
                kiosk=OrderKiosk(id=o.kiosk_id, name=o.kiosk_name),
                created_at=o.created_at,
            )
            for o, url in zip(rows, urls, strict=True)
        ]

    async def json(self, rows: Sequence[OrderRow]) -> bytes:
        """The rows as a JSON array of OrderRead, built without a model per row (the
        partner's busiest lists; a test holds it equal to OrderRead's own JSON)."""
        urls = await self._storage.urls([o.image_key for o in rows])
        return orders_json(rows, urls)

    async def cards(self, rows: Sequence[OrderRow]) -> list[OrderCard]:
        """The rows with their photo's and thumbnail's links, for the dashboard (the full
        photo where an order predates thumbnails)."""
        keys = [o.image_key for o in rows] + [o.thumbnail_key or o.image_key for o in rows]
        urls = await self._storage.urls(keys)
        n = len(rows)
        return [OrderCard(o, urls[i], urls[n + i]) for i, o in enumerate(rows)]

    def _window(self) -> dict[str, datetime]:
        now = clock.now()
        unprinted_since = now - timedelta(hours=self._settings.new_orders_unprinted_hours)
        printed_since = now - timedelta(minutes=self._settings.new_orders_printed_minutes)
        return {
            "unprinted_since": unprinted_since,
            "printed_since": printed_since,
            "active_since": min(unprinted_since, printed_since),
        }

    async def new_orders(self, partner: Principal, limit: int = 500) -> list[OrderRow]:
        """Not printed in the last 3 hours, and printed in the last 15 minutes; newest
        first."""
        conn = await self._db.connection()
        params = {"owner": partner.user_id, "limit": limit, **self._window()}
        return [OrderRow._make(r) for r in await conn.execute(_NEW_ORDERS, params)]

    def _history_values(self, partner: Principal, filters: OrderFilters) -> dict[str, Any]:
        floor = clock.now() - timedelta(days=self._settings.orders_history_days)
        lower = _start_of(filters.date_from) if filters.date_from else None
        upper = _end_of(filters.date_to) if filters.date_to else None
        if lower is not None and upper is not None and lower >= upper:
            raise ValidationFailed(
                "dateFrom must not be after dateTo", {"dateFrom": ["must not be after dateTo"]}
            )
        return {
            "owner": partner.user_id,
            "floor": floor,
            "status": filters.status,
            "date_from": lower,
            "date_to": upper,
            "kiosk_id": filters.kiosk_id,
            "customer_name": filters.customer_name or None,
            "customer_email": (
                filters.customer_email.strip().lower() if filters.customer_email else None
            ),
            "q": filters.q.strip() if filters.q and filters.q.strip() else None,
        }

    async def history(
        self,
        partner: Principal,
        filters: OrderFilters,
        page: int,
        page_size: int,
        *,
        oldest_first: bool = False,
    ) -> tuple[list[OrderRow], int]:
        """The last 30 days, filtered; a date range reaching further back is clipped."""
        found = await HISTORY.page(
            self._db,
            self._history_values(partner, filters),
            page=page,
            page_size=page_size,
            sort_order=SortOrder.ASC if oldest_first else SortOrder.DESC,
        )
        return [OrderRow._make(r) for r in found.rows], found.total

    def older_unprinted_filters(self) -> OrderFilters:
        """Not printed and already out of the "new orders" window (still within 30 days)."""
        since = self._window()["unprinted_since"]
        return OrderFilters(status=PrintStatus.NOT_PRINTED, date_to=since)

    async def count_older_unprinted(self, partner: Principal) -> int:
        """What the "older unprinted" view lists (`older_unprinted_filters`), counted."""
        floor = clock.now() - timedelta(days=self._settings.orders_history_days)
        params = {"owner": partner.user_id, "floor": floor, **self._window()}
        return int((await self._db.execute(_OLDER_UNPRINTED, params)).scalar_one())

    async def _get_owned(
        self, partner: Principal, order_id: uuid.UUID, *, lock: bool = False
    ) -> tuple[Order, Kiosk]:
        stmt = (
            select(Order, Kiosk)
            .join(Kiosk, Kiosk.id == Order.kiosk_id)
            .join(Shop, Shop.id == Kiosk.shop_id)
            .where(Shop.partner_user_id == partner.user_id, Order.id == order_id)
        )
        if lock:
            stmt = stmt.with_for_update(of=Order)
        row = (await self._db.execute(stmt)).one_or_none()
        if row is None:
            raise OrderNotFound()
        return row[0], row[1]

    async def get_owned(self, partner: Principal, order_id: uuid.UUID) -> OrderRow:
        """Raises ORDER_NOT_FOUND (404) for a missing order and another partner's alike."""
        return OrderRow.of(*await self._get_owned(partner, order_id))

    async def daily_counters(self, partner: Principal, day: date | None) -> tuple[int, int]:
        """Orders of one local day per shop (each shop's own time zone), summed."""
        shops = await self._db.execute(
            select(Shop.id, Shop.timezone).where(Shop.partner_user_id == partner.user_id)
        )
        total = printed = 0
        for shop_id, tz_name in shops:
            tz = ZoneInfo(tz_name)
            local_day = day or clock.now().astimezone(tz).date()
            start = datetime.combine(local_day, time.min, tzinfo=tz).astimezone(UTC)
            end = datetime.combine(local_day + timedelta(days=1), time.min, tzinfo=tz).astimezone(
                UTC
            )
            result = await self._db.execute(
                _DAILY_COUNTERS, {"shop": shop_id, "start": start, "end": end}
            )
            shop_all, shop_printed = result.one()
            total += int(shop_all)
            printed += int(shop_printed)
        return total, printed

    # -- changing -----------------------------------------------------------------------

    async def mark(self, partner: Principal, order_id: uuid.UUID, status: PrintStatus) -> OrderRow:
        order, kiosk = await self._get_owned(partner, order_id, lock=True)
        was = order.status
        order.printed_at = clock.now() if status is PrintStatus.PRINTED else None
        event = (
            ActivityEvent.ORDER_MARK_PRINTED
            if status is PrintStatus.PRINTED
            else ActivityEvent.ORDER_MARK_NOT_PRINTED
        )
        self._activity.record(
            event,
            actor_type="partner",
            actor_id=partner.user_id,
            kiosk_id=order.kiosk_id,
            order_id=order.id,
            previous=was.value,
        )
        await self._db.flush()
        shop_changed(self._db, kiosk.shop_id)
        return OrderRow.of(order, kiosk)

    async def create(self, kiosk: Kiosk, form: NewOrderForm, image: bytes) -> OrderRow:
        """Stores the photo, then the order. A photo whose order never commits is an
        orphan that the daily cleanup removes after its grace period."""
        photo = await asyncio.to_thread(
            clean_photo,
            image,
            max_pixels=self._settings.max_image_pixels,
            max_side=self._settings.max_image_side,
        )
        now = clock.now()
        order_id = uuid.uuid4()
        key = f"{ORDER_PHOTO_PREFIX}{now:%Y/%m/%d}/{order_id}.{photo.ext}"
        thumbnail_key = f"{ORDER_PHOTO_PREFIX}{now:%Y/%m/%d}/{order_id}.thumb.jpg"
        await self._storage.put(key, photo.data, photo.content_type)
        await self._storage.put(thumbnail_key, photo.thumbnail, "image/jpeg")
        order = Order(
            id=order_id,
            kiosk_id=kiosk.id,
            customer_name=form.customer_name.strip(),
            customer_email=(form.customer_email or "").strip().lower(),
            customer_phone=(form.customer_phone or "").strip(),
            image_key=key,
            image_content_type=photo.content_type,
            thumbnail_key=thumbnail_key,
            number=await self._next_number(kiosk.shop_id),
            created_at=now,
        )
        self._db.add(order)
        self._activity.record(
            ActivityEvent.ORDER_CREATED,
            actor_type="kiosk",
            actor_id=kiosk.id,
            kiosk_id=kiosk.id,
            order_id=order.id,
        )
        await self._db.flush()
        shop_changed(self._db, kiosk.shop_id)
        return OrderRow.of(order, kiosk)

    async def _next_number(self, shop_id: uuid.UUID) -> int:
        """The shop's next order number. The counter's row stays locked until the order
        commits, so two kiosks of one shop never get the same number."""
        stmt = upsert(
            self._db,
            OrderNumber,
            {"shop_id": shop_id, "last_number": 1},
            key=["shop_id"],
            add=["last_number"],
        ).returning(OrderNumber.last_number)
        return int((await self._db.execute(stmt)).scalar_one())

    # -- retention (seed 000 §3): batches, each its own short transaction ----------------

    @staticmethod
    async def count_older_than(maker: async_sessionmaker[AsyncSession], cutoff: datetime) -> int:
        return await count_where(maker, Order.created_at < cutoff)

    @staticmethod
    async def purge_older_than(
        maker: async_sessionmaker[AsyncSession],
        storage: PhotoStorage,
        cutoff: datetime,
        batch_size: int,
    ) -> tuple[int, int]:
        """Deletes the orders made before `cutoff`, then their photos: (orders, photos)."""
        removed = photos = 0
        while True:
            async with maker.begin() as db:
                rows = (
                    await db.execute(
                        select(Order.id, Order.image_key, Order.thumbnail_key)
                        .where(Order.created_at < cutoff)
                        .order_by(Order.created_at)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    break
                await db.execute(delete(Order).where(Order.id.in_([r.id for r in rows])))
            # Committed: these keys are named by no order any more (both keys are unique).
            keys = [r.image_key for r in rows]
            await storage.delete(keys + [r.thumbnail_key for r in rows if r.thumbnail_key])
            removed += len(rows)
            photos += len(keys)
        return removed, photos

    @staticmethod
    async def photos_in_use(maker: async_sessionmaker[AsyncSession], keys: list[str]) -> set[str]:
        """The keys among `keys` that an order names (its photo or the photo's thumbnail)."""
        async with maker() as db:
            photos = await db.execute(select(Order.image_key).where(Order.image_key.in_(keys)))
            thumbs = await db.execute(
                select(Order.thumbnail_key).where(Order.thumbnail_key.in_(keys))
            )
            return {k for k in (*photos.scalars(), *thumbs.scalars()) if k}
