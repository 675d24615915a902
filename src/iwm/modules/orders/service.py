"""Kiosk photo orders: made by the kiosk, printed by the partner's shop."""

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.db import count_where
from iwm.core.errors import ValidationFailed
from iwm.core.listing import (
    Listing,
    SortOrder,
    at_least,
    below,
    by_value,
    clause,
    contains,
    equals,
    param,
)
from iwm.core.principal import Principal
from iwm.core.storage import PhotoStorage
from iwm.modules.activity.models import ActivityEvent
from iwm.modules.activity.service import ActivityService
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.orders.errors import OrderNotFound
from iwm.modules.orders.models import Order, PrintStatus
from iwm.modules.orders.photos import clean_photo
from iwm.modules.orders.schemas import (
    NewOrderForm,
    OrderCard,
    OrderFilters,
    OrderKiosk,
    OrderRead,
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


# A partner's order history: the orders of the kiosks in his shops.
HISTORY = Listing(
    rows=select(Order, Kiosk.name.label("kiosk_name")).join(Kiosk, Kiosk.id == Order.kiosk_id),
    key=Order.id,
    base=Order,
    filters=[
        clause(
            "owner",
            Order.kiosk_id.in_(
                select(Kiosk.id)
                .join(Shop, Shop.id == Kiosk.shop_id)
                .where(Shop.partner_user_id == param("owner"))
            ),
        ),
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
    ],
    sorts={"createdAt": Order.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
    key_order=SortOrder.ASC,
)


class OrderService:
    """Never commits: the request's transaction does."""

    def __init__(self, session: AsyncSession, settings: Settings, storage: PhotoStorage) -> None:
        self._db = session
        self._settings = settings
        self._storage = storage
        self._activity = ActivityService(session)

    # -- reading ------------------------------------------------------------------------

    @staticmethod
    def _owned(partner_user_id: uuid.UUID) -> Select[Order, str]:
        return (
            select(Order, Kiosk.name)
            .join(Kiosk, Kiosk.id == Order.kiosk_id)
            .join(Shop, Shop.id == Kiosk.shop_id)
            .where(Shop.partner_user_id == partner_user_id)
        )

    async def views(self, rows: Sequence[tuple[Order, str]]) -> list[OrderRead]:
        urls = await asyncio.gather(*(self._storage.url(o.image_key) for o, _ in rows))
        return [
            OrderRead(
                id=o.id,
                customer_name=o.customer_name,
                customer_email=o.customer_email or None,
                customer_phone=o.customer_phone or None,
                status=o.status,
                image_url=url,
                printed_at=o.printed_at,
                kiosk=OrderKiosk(id=o.kiosk_id, name=kiosk_name),
                created_at=o.created_at,
            )
            for (o, kiosk_name), url in zip(rows, urls, strict=True)
        ]

    async def cards(self, rows: Sequence[tuple[Order, str]]) -> list[OrderCard]:
        """The views with the thumbnail's link, for the dashboard's lists (the full photo
        where an order predates thumbnails)."""
        views = await self.views(rows)
        thumbs = await asyncio.gather(
            *(self._storage.url(o.thumbnail_key) for o, _ in rows if o.thumbnail_key)
        )
        links = iter(thumbs)
        return [
            OrderCard(**view.model_dump(), thumbnail_url=next(links) if o.thumbnail_key else None)
            for (o, _), view in zip(rows, views, strict=True)
        ]

    async def new_orders(self, partner: Principal, limit: int = 500) -> list[tuple[Order, str]]:
        """Not printed in the last 3 hours, and printed in the last 15 minutes."""
        now = clock.now()
        unprinted_since = now - timedelta(hours=self._settings.new_orders_unprinted_hours)
        printed_since = now - timedelta(minutes=self._settings.new_orders_printed_minutes)
        stmt = (
            self._owned(partner.user_id)
            .where(
                or_(
                    and_(Order.printed_at.is_(None), Order.created_at >= unprinted_since),
                    Order.printed_at >= printed_since,
                ),
                # Implied by the condition above; lets ix_orders_kiosk_activity narrow the
                # scan to each kiosk's recent rows.
                func.coalesce(Order.printed_at, Order.created_at)
                >= min(unprinted_since, printed_since),
            )
            .order_by(Order.created_at.desc(), Order.id)
            .limit(limit)
        )
        return [(o, name) for o, name in await self._db.execute(stmt)]

    async def history(
        self, partner: Principal, filters: OrderFilters, page: int, page_size: int
    ) -> tuple[list[tuple[Order, str]], int]:
        """The last 30 days, filtered; a date range reaching further back is clipped."""
        floor = clock.now() - timedelta(days=self._settings.orders_history_days)
        lower = _start_of(filters.date_from) if filters.date_from else None
        upper = _end_of(filters.date_to) if filters.date_to else None
        if lower is not None and upper is not None and lower >= upper:
            raise ValidationFailed(
                "dateFrom must not be after dateTo", {"dateFrom": ["must not be after dateTo"]}
            )
        found = await HISTORY.page(
            self._db,
            {
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
            },
            page=page,
            page_size=page_size,
        )
        return [(r.Order, r.kiosk_name) for r in found.rows], found.total

    async def get_owned(
        self, partner: Principal, order_id: uuid.UUID, *, lock: bool = False
    ) -> tuple[Order, str]:
        """Raises ORDER_NOT_FOUND (404) for a missing order and another partner's alike."""
        stmt = self._owned(partner.user_id).where(Order.id == order_id)
        if lock:
            stmt = stmt.with_for_update(of=Order)
        row = (await self._db.execute(stmt)).one_or_none()
        if row is None:
            raise OrderNotFound()
        return row[0], row[1]

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
                select(func.count(), func.count(Order.printed_at))
                .select_from(Order)
                .join(Kiosk, Kiosk.id == Order.kiosk_id)
                .where(Kiosk.shop_id == shop_id, Order.created_at >= start, Order.created_at < end)
            )
            shop_all, shop_printed = result.one()
            total += int(shop_all)
            printed += int(shop_printed)
        return total, printed

    # -- changing -----------------------------------------------------------------------

    async def mark(
        self, partner: Principal, order_id: uuid.UUID, status: PrintStatus
    ) -> tuple[Order, str]:
        order, kiosk_name = await self.get_owned(partner, order_id, lock=True)
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
        return order, kiosk_name

    async def create(self, kiosk: Kiosk, form: NewOrderForm, image: bytes) -> tuple[Order, str]:
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
        return order, kiosk.name

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
