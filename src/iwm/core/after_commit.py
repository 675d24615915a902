"""Work that follows a transaction once it has committed, never inside it.

A service registers a job on its session (`after_commit`); the request's transaction
(`iwm.core.deps.get_session`) runs the registered jobs after its commit, once the answer
has gone out (a background task: the client does not wait for them). A job is named, so
that several registrations in one transaction run it once, and takes the app's resources
to open its own transactions. Work a job leaves undone (a crash, a failure) must be found
again by a scheduler sweep: a job is a shortcut, not the only way its work gets done.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.resources import Resources

log = structlog.get_logger()

Job = Callable[[Resources], Awaitable[object]]
_KEY = "iwm.after_commit"


def after_commit(session: AsyncSession, name: str, job: Job) -> None:
    """Runs `job` once `session`'s transaction has committed (not if it rolls back)."""
    session.info.setdefault(_KEY, {})[name] = job


def take_jobs(session: AsyncSession) -> list[tuple[str, Job]]:
    """The jobs registered on `session`, removed from it (the caller runs them)."""
    jobs: dict[str, Job] = session.info.pop(_KEY, {})
    return list(jobs.items())


def discard_jobs(session: AsyncSession) -> None:
    """Forgets the registered jobs: their transaction rolled back."""
    session.info.pop(_KEY, None)


async def run_job(resources: Resources, name: str, job: Job) -> None:
    """Runs a job; a failure is logged, not raised (the answer is already out)."""
    try:
        await job(resources)
    except Exception:
        log.exception("after_commit.failed", job=name)


@asynccontextmanager
async def transaction(resources: Resources) -> AsyncIterator[AsyncSession]:
    """A transaction outside a request (the demo, a command): committed when the block
    ends, then what its services registered to follow the commit runs."""
    async with resources.sessionmaker.begin() as session:
        yield session
        jobs = take_jobs(session)
    for name, job in jobs:
        await run_job(resources, name, job)
