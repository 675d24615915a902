"""Every test runs on both profiles: `embedded` (SQLite, SQL sessions, in-process limits,
local photo folder) and `production` (PostgreSQL, Redis, S3 on a loopback S3 server).

The production profile is skipped when PostgreSQL or Redis is unreachable, except under
CI=true, where it is required. Each profile gets a database built by the migrations;
after each test every table is emptied, the run's Redis keys (its own prefix: other runs
may share the Redis database) and the photo store are wiped. Names carry `RUN_ID`, one per
test process, so pytest-xdist workers and parallel runs never touch each other's state.
"""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.db import make_engine, make_sessionmaker
from iwm.core.migrations import upgrade_head
from iwm.core.resources import Resources
from iwm.main import create_app
from iwm.models import Base
from iwm.projections import install as install_projections
from tests.support import (
    IN_CI,
    RUN_ID,
    Profile,
    embedded_env,
    free_port,
    production_available,
    production_env,
    psql,
    unlink_prefixed,
)

BUCKET = "iwm-test-photos"
# The fault suite stops its own PostgreSQL, Redis and S3 for minutes on end: it runs on its
# own, through `make test-faults` (IWM_FAULTS=1), not as part of `make test`.
collect_ignore = [] if os.environ.get("IWM_FAULTS") else ["faults"]
# The generated-client test installs openapi-python-client from the package registry into a
# throwaway environment (a minute): `make test-client` (IWM_CLIENT_TEST=1) runs it.
if not os.environ.get("IWM_CLIENT_TEST"):
    collect_ignore.append("client")

# The services publish domain events from the first test on (the app registers them too).
install_projections()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session", params=["embedded", "production"])
def profile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Profile]:
    if request.param == "embedded":
        tmp = tmp_path_factory.mktemp("embedded")
        env = embedded_env(tmp)
        upgrade_head(env["IWM_DATABASE_URL"])
        yield Profile("embedded", env)
        return
    if not production_available():
        if IN_CI:
            pytest.fail("CI=true needs PostgreSQL and Redis on 127.0.0.1")
        pytest.skip("PostgreSQL or Redis is not reachable")
    endpoint = request.getfixturevalue("s3_endpoint")
    db_name = f"iwm_test_{RUN_ID}"
    psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    psql(f"CREATE DATABASE {db_name}")
    env = production_env(db_name, endpoint, BUCKET, redis_prefix=f"iwm_test_{RUN_ID}")
    upgrade_head(env["IWM_DATABASE_URL"])
    yield Profile("production", env)
    psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


@pytest.fixture(scope="session")
def settings(profile: Profile) -> Settings:
    return Settings(**{k[4:].lower(): v for k, v in profile.env.items() if k.startswith("IWM_")})


@pytest.fixture(scope="session", autouse=True)
def _aws_env() -> None:
    # The S3 client reads its keys the usual way, from the AWS_* variables.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
async def app_and_resources(settings: Settings) -> AsyncIterator[tuple[object, Resources]]:
    app = create_app(settings)
    resources: Resources = app.state.resources
    yield app, resources
    await resources.close()


@pytest.fixture
def resources(app_and_resources: tuple[object, Resources]) -> Resources:
    return app_and_resources[1]


@pytest.fixture
async def client(
    app_and_resources: tuple[object, Resources], _clean: None
) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = app_and_resources
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture(scope="session")
async def observer_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    # Deferred transactions on SQLite, so that reading in a test never holds the
    # write lock the app's requests need.
    engine = make_engine(settings, sqlite_immediate=False)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(observer_engine: AsyncEngine, _clean: None) -> AsyncIterator[AsyncSession]:
    """A session for asserting database state (each test reads what the app committed)."""
    async with make_sessionmaker(observer_engine)() as session:
        yield session


@pytest.fixture
async def _clean(resources: Resources) -> AsyncIterator[None]:
    yield
    clock.reset()
    await wipe(resources)


async def wipe(resources: Resources) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    # DELETE, children first, on both databases: a test leaves a few rows, and PostgreSQL's
    # TRUNCATE of every table (new files for each) took a second per test where DELETE
    # takes a few milliseconds.
    async with resources.engine.begin() as conn:
        # A row pointing at another row of its table (a commission's correction) would
        # refuse the DELETE (ON DELETE RESTRICT is checked row by row): unlink first.
        for table in Base.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table is table:
                    await conn.execute(
                        text(f"UPDATE {table.name} SET {fk.parent.name} = NULL")  # noqa: S608
                    )
        for name in tables:
            await conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608
    resources.principals.clear()
    if resources.redis is not None:
        # Sessions and rate limits alike live under the run's prefix.
        await unlink_prefixed(resources.redis, resources.settings.redis_prefix)
    else:
        await resources.limiter.reset()
    storage = resources.storage
    root = getattr(storage, "root", None)
    if isinstance(root, Path):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
    else:
        keys = [obj.key async for obj in storage.list()]
        if keys:
            await storage.delete(keys)


@pytest.fixture
def is_production(profile: Profile) -> bool:
    return profile.is_production


@pytest.fixture
def production_only(profile: Profile) -> None:
    if not profile.is_production:
        pytest.skip("needs PostgreSQL (real concurrent transactions)")
