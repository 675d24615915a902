"""The daily retention job of seed 000 §3.

Deletes in batches, each batch its own short transaction, so the API keeps serving
while it runs; running it twice removes nothing more. Photos go only after the
transaction that removed their order has committed, and a stored photo is deleted as
an orphan only when no order names it and it is older than a grace period (an upload
whose order is still being written is never taken).
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.codes.models import FreeRoundCode
from iwm.modules.kiosks.models import KioskErrorReport
from iwm.modules.orders.models import Order

log = structlog.get_logger()
# Order photos live under this prefix (OrderService); the storage holds other files too.
ORDER_PHOTO_PREFIX = "orders/"


@dataclass
class CleanupReport:
    orders: int = 0
    codes: int = 0
    kiosk_errors: int = 0
    photos: int = 0
    orphan_photos: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CleanupService:
    def __init__(self, resources: Resources) -> None:
        self._res = resources
        self._maker: async_sessionmaker[AsyncSession] = resources.sessionmaker
        self._batch = resources.settings.cleanup_batch_size

    async def run(self, *, dry_run: bool = False) -> CleanupReport:
        settings = self._res.settings
        now = clock.now()
        report = CleanupReport(dry_run=dry_run)
        order_cutoff = now - timedelta(days=settings.order_retention_days)
        code_cutoff = now - timedelta(days=settings.code_retention_days)
        error_cutoff = now - timedelta(days=settings.kiosk_error_retention_days)
        if dry_run:
            report.orders = await self._count(Order.created_at < order_cutoff)
            report.codes = await self._count(FreeRoundCode.created_at < code_cutoff)
            report.kiosk_errors = await self._count(KioskErrorReport.created_at < error_cutoff)
            report.photos = report.orders
            report.orphan_photos = await self._orphans(now, delete_them=False)
            return report
        report.orders, report.photos = await self._delete_orders(order_cutoff)
        report.codes = await self._delete_batches(
            FreeRoundCode, FreeRoundCode.created_at < code_cutoff
        )
        report.kiosk_errors = await self._delete_batches(
            KioskErrorReport, KioskErrorReport.created_at < error_cutoff
        )
        report.orphan_photos = await self._orphans(now, delete_them=True)
        log.info("cleanup.finished", **report.as_dict())
        return report

    async def _count(self, condition: ColumnElement[bool]) -> int:
        table = condition.left.table
        async with self._maker() as db:
            result = await db.execute(select(func.count()).select_from(table).where(condition))
            return int(result.scalar_one())

    async def _delete_orders(self, cutoff: datetime) -> tuple[int, int]:
        removed = photos = 0
        while True:
            async with self._maker.begin() as db:
                rows = (
                    await db.execute(
                        select(Order.id, Order.image_key)
                        .where(Order.created_at < cutoff)
                        .order_by(Order.created_at)
                        .limit(self._batch)
                    )
                ).all()
                if not rows:
                    break
                await db.execute(delete(Order).where(Order.id.in_([r.id for r in rows])))
            # Committed: these keys are named by no order any more (image_key is unique).
            keys = [r.image_key for r in rows]
            await self._res.storage.delete(keys)
            removed += len(rows)
            photos += len(keys)
        return removed, photos

    async def _delete_batches(
        self, model: type[FreeRoundCode] | type[KioskErrorReport], condition: ColumnElement[bool]
    ) -> int:
        removed = 0
        while True:
            async with self._maker.begin() as db:
                ids = list(
                    (
                        await db.execute(select(model.id).where(condition).limit(self._batch))
                    ).scalars()
                )
                if not ids:
                    break
                await db.execute(delete(model).where(model.id.in_(ids)))
            removed += len(ids)
        return removed

    async def _orphans(self, now: datetime, *, delete_them: bool) -> int:
        grace_cutoff = now - timedelta(minutes=self._res.settings.orphan_photo_grace_minutes)
        found = 0
        batch: list[str] = []
        async for obj in self._res.storage.list():
            # Only order photos are ours to judge; other files (KYC documents) are not.
            if not obj.key.startswith(ORDER_PHOTO_PREFIX) or obj.modified_at >= grace_cutoff:
                continue
            batch.append(obj.key)
            if len(batch) >= self._batch:
                found += await self._drop_unreferenced(batch, delete_them)
                batch = []
        if batch:
            found += await self._drop_unreferenced(batch, delete_them)
        return found

    async def _drop_unreferenced(self, keys: list[str], delete_them: bool) -> int:
        async with self._maker() as db:
            referenced = set(
                (
                    await db.execute(select(Order.image_key).where(Order.image_key.in_(keys)))
                ).scalars()
            )
        orphans = [k for k in keys if k not in referenced]
        if orphans and delete_them:
            await self._res.storage.delete(orphans)
        return len(orphans)
