"""FastAPI dependencies: the app's resources and the request's transaction."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.after_commit import discard_jobs, run_job, take_jobs
from iwm.core.config import Settings
from iwm.core.deadline import ensure_still_wanted
from iwm.core.resources import Resources

SESSION_COOKIE = "iwm_session"


async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings_dep(resources: ResourcesDep) -> Settings:
    return resources.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(
    request: Request, resources: ResourcesDep, background: BackgroundTasks
) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent; rolled back
    instead when the request's deadline passed or its client has gone. What the request's
    services registered to follow the commit (`after_commit`) runs after the answer."""
    async with resources.sessionmaker() as session:
        try:
            yield session
            await ensure_still_wanted(request)
            await session.commit()
        except BaseException:
            discard_jobs(session)
            await session.rollback()
            raise
        for name, job in take_jobs(session):
            background.add_task(run_job, resources, name, job)


# scope="function": the commit runs when the handler returns, before the response goes
# out, so a client never sees a success whose transaction then failed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For endpoints that only read: every statement runs on its own (autocommit).

    Under READ COMMITTED each statement sees its own snapshot anyway, so a transaction
    around reads adds two round trips (BEGIN, COMMIT) and no consistency. The resources are
    taken from the app, not through `ResourcesDep`: one dependency less to solve on every
    read."""
    resources: Resources = request.app.state.resources
    async with resources.read_sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def bearer_token(request: Request) -> str | None:
    return parse_bearer(request.headers.get("authorization", ""))


def parse_bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
