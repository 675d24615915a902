"""The daily retention job of seed 000 §3.

Deletes in batches, each batch its own short transaction, so the API keeps serving
while it runs; running it twice removes nothing more. Photos go only after the
transaction that removed their order has committed, and a stored photo is deleted as
an orphan only when no order names it and it is older than a grace period (an upload
whose order is still being written is never taken).
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iwm.core import clock
from iwm.core.idempotency import IdempotentAnswer
from iwm.core.resources import Resources
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.service import ORDER_PHOTO_PREFIX, OrderService
from iwm.modules.rounds import service as rounds

log = structlog.get_logger()
IDEMPOTENT_ANSWERS_KEPT = timedelta(days=1)
# Order photos live under this prefix (OrderService); the storage holds other files too.


@dataclass
class CleanupReport:
    orders: int = 0
    codes: int = 0
    kiosk_errors: int = 0
    photos: int = 0
    orphan_photos: int = 0
    temporary_files: int = 0
    idempotent_answers: int = 0
    kiosk_sessions: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CleanupService:
    def __init__(self, resources: Resources) -> None:
        self._res = resources
        self._maker: async_sessionmaker[AsyncSession] = resources.sessionmaker
        self._batch = resources.settings.cleanup_batch_size

    # The steps in the order `run` takes them, for a caller showing progress.
    STEPS = (
        "orders and photos",
        "codes",
        "kiosk errors",
        "orphan photos",
        "kiosk sessions",
        "temporary files",
        "idempotent answers",
    )
    DRY_RUN_STEPS = STEPS[:5]

    async def run(
        self, *, dry_run: bool = False, on_step: Callable[[str], None] | None = None
    ) -> CleanupReport:
        """`on_step(name)` is called as each step of `STEPS` (`DRY_RUN_STEPS`) begins."""
        step = on_step or (lambda _name: None)
        settings = self._res.settings
        now = clock.now()
        report = CleanupReport(dry_run=dry_run)
        order_cutoff = now - timedelta(days=settings.order_retention_days)
        code_cutoff = now - timedelta(days=settings.code_retention_days)
        error_cutoff = now - timedelta(days=settings.kiosk_error_retention_days)
        unpaid_cutoff = now - timedelta(days=settings.kiosk_session_expired_retention_days)
        maker, batch = self._maker, self._batch
        if dry_run:
            step("orders and photos")
            report.orders = await OrderService.count_older_than(maker, order_cutoff)
            report.photos = report.orders
            step("codes")
            report.codes = await CodeService.count_older_than(maker, code_cutoff)
            step("kiosk errors")
            report.kiosk_errors = await KioskService.count_errors_older_than(maker, error_cutoff)
            step("orphan photos")
            report.orphan_photos = await self._orphans(now, delete_them=False)
            step("kiosk sessions")
            report.kiosk_sessions = await rounds.count_retired(maker, order_cutoff, unpaid_cutoff)
            return report
        step("orders and photos")
        report.orders, report.photos = await OrderService.purge_older_than(
            maker, self._res.storage, order_cutoff, batch
        )
        step("codes")
        report.codes = await CodeService.purge_older_than(maker, code_cutoff, batch)
        step("kiosk errors")
        report.kiosk_errors = await KioskService.purge_errors_older_than(maker, error_cutoff, batch)
        step("orphan photos")
        report.orphan_photos = await self._orphans(now, delete_them=True)
        step("kiosk sessions")
        report.kiosk_sessions = await rounds.purge_retired(
            maker, order_cutoff, unpaid_cutoff, batch
        )
        step("temporary files")
        # Left by writes that died midway (the service removes its own on failure); the
        # grace period spares a write still under way.
        report.temporary_files = await self._res.storage.remove_stale_temporary(
            now - timedelta(minutes=settings.orphan_photo_grace_minutes)
        )
        step("idempotent answers")
        # A kiosk retries within minutes; a day covers one that was offline overnight.
        # One statement: the table holds a day of kiosk writes at most.
        async with maker.begin() as db:
            forgotten = await db.execute(
                delete(IdempotentAnswer).where(
                    IdempotentAnswer.created_at < now - IDEMPOTENT_ANSWERS_KEPT
                )
            )
        report.idempotent_answers = int(getattr(forgotten, "rowcount", 0) or 0)
        log.info("cleanup.finished", **report.as_dict())
        return report

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
        referenced = await OrderService.photos_in_use(self._maker, keys)
        orphans = [k for k in keys if k not in referenced]
        if orphans and delete_them:
            await self._res.storage.delete(orphans)
        return len(orphans)
