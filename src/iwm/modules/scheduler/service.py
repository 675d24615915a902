"""Runs the registered jobs inside `iwm serve`, in every process.

A daily job runs once a day across every process: each process wakes up now and then,
the first to insert today's `job_runs` row (its primary key is job + date) runs the job,
the others see the row and go back to sleep. A recurring job runs at every wake-up in
every process, so it must be safe to run in several processes at once.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.metrics import JOB_RUNS
from iwm.core.resources import Resources
from iwm.modules.scheduler.models import JobRun

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class DailyJob:
    name: str
    hour_utc: Callable[[Settings], int]  # not before this hour of the day
    run: Callable[[Resources], Awaitable[dict[str, Any]]]  # its report, kept in `job_runs`
    failure_event: str


@dataclass(frozen=True, slots=True)
class RecurringJob:
    name: str
    run: Callable[[Resources], Awaitable[None]]
    failure_event: str


Job = DailyJob | RecurringJob


async def claim_and_run(resources: Resources, job: DailyJob) -> bool:
    """Run today's `job` if no process has claimed it yet; True when this one ran it."""
    now = clock.now()
    if now.hour < job.hour_utc(resources.settings):
        return False
    today = now.date()
    try:
        async with resources.sessionmaker.begin() as db:
            db.add(JobRun(job=job.name, run_date=today, started_at=now))
    except IntegrityError:
        return False
    try:
        report = await job.run(resources)
    except Exception:
        # Give the day back, so the next wake-up (here or elsewhere) tries again.
        async with resources.sessionmaker.begin() as db:
            await db.delete(await db.get_one(JobRun, (job.name, today)))
        raise
    async with resources.sessionmaker.begin() as db:
        run = await db.get_one(JobRun, (job.name, today))
        run.finished_at = clock.now()
        run.result = report
    return True


class Scheduler:
    def __init__(
        self, resources: Resources, jobs: Sequence[Job], interval_seconds: float = 300
    ) -> None:
        self._resources = resources
        self._jobs = tuple(jobs)
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="iwm-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            for job in self._jobs:
                try:
                    if isinstance(job, DailyJob):
                        ran = await claim_and_run(self._resources, job)
                    else:
                        await job.run(self._resources)
                        ran = True
                    if ran:
                        JOB_RUNS.labels(job.name, "ok").inc()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    JOB_RUNS.labels(job.name, "failed").inc()
                    log.exception(job.failure_event)
            await asyncio.sleep(self._interval)
