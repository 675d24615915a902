"""Runs the daily cleanup inside `iwm serve`: once a day across every process.

Each process wakes up now and then; the first to insert today's `job_runs` row (its
primary key is job + date) runs the job, the others see the row and go back to sleep.
At each wake-up it also finishes payouts left in PROCESSING (safe in every process at
once: the provider pays an idempotency key once, and the outcome is recorded under the
payout's lock only while it is still PROCESSING).
"""

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.cleanup.models import JobRun
from iwm.modules.cleanup.service import CleanupService
from iwm.modules.payouts.service import PayoutProcessor

log = structlog.get_logger()
JOB = "cleanup"


async def claim_and_run(resources: Resources) -> bool:
    """Run today's cleanup if no process has claimed it yet; True when this one ran it."""
    now = clock.now()
    if now.hour < resources.settings.cleanup_hour_utc:
        return False
    today = now.date()
    try:
        async with resources.sessionmaker.begin() as db:
            db.add(JobRun(job=JOB, run_date=today, started_at=now))
    except IntegrityError:
        return False
    try:
        report = await CleanupService(resources).run()
    except Exception:
        # Give the day back, so the next wake-up (here or elsewhere) tries again.
        async with resources.sessionmaker.begin() as db:
            await db.delete(await db.get_one(JobRun, (JOB, today)))
        raise
    async with resources.sessionmaker.begin() as db:
        run = await db.get_one(JobRun, (JOB, today))
        run.finished_at = clock.now()
        run.result = report.as_dict()
    return True


async def reconcile_payouts(resources: Resources) -> dict[str, int]:
    stale_after = timedelta(seconds=resources.settings.payout_reconcile_after_seconds)
    return await PayoutProcessor.of(resources).reconcile(stale_after)


class DailyScheduler:
    def __init__(self, resources: Resources, interval_seconds: float = 300) -> None:
        self._resources = resources
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="iwm-daily-cleanup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await claim_and_run(self._resources)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cleanup.failed")
            try:
                counts = await reconcile_payouts(self._resources)
                if any(counts.values()):
                    log.info("payouts.reconciled", **counts)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("payouts.reconcile_failed")
            await asyncio.sleep(self._interval)
