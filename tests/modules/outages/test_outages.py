"""While PostgreSQL, Redis or S3 is down, the requests that need it answer 503
SERVICE_UNAVAILABLE in the error format, with Retry-After, within the parts' timeouts;
`/healthz` keeps answering and `/readyz` names the part that is down, with each check's time.

Each part is made unreachable on its own: a closed loopback port, or a private redis-server
(never the shared one) stopped with SIGSTOP to hang every call."""

import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import httpx
import pytest

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.resources import Resources
from iwm.main import create_app
from tests.factories.images import jpeg
from tests.factories.kiosk_network import make_world
from tests.support import embedded_env, free_port, port_open

# The requests below must fail within the parts' default timeouts (about 1 s here), with
# room for a loaded test machine; without timeouts they hang for 5 to 60 s.
WITHIN_SECONDS = 4.0
BEARER = {"Authorization": "Bearer not-a-session"}
LOGIN = {"email": "nobody@example.com", "password": "wrong-password-1"}


def _closed_port() -> int:
    port = free_port()
    assert not port_open("127.0.0.1", port)
    return port


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = embedded_env(tmp_path)
    upgrade_head(env["IWM_DATABASE_URL"])
    return env


async def _client(env: dict[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})
    app = create_app(settings)
    resources: Resources = app.state.resources
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, resources
    finally:
        await resources.close()


def _unavailable(resp: httpx.Response, elapsed: float) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.json() == {
        "success": False,
        "error": {
            "code": "SERVICE_UNAVAILABLE",
            "message": "A part of the service is unavailable, try again shortly",
            "details": {},
        },
    }
    assert int(resp.headers["retry-after"]) >= 1
    assert elapsed < WITHIN_SECONDS, elapsed


async def _timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = await call
    return resp, time.monotonic() - started


async def _ready_fails_on(http: httpx.AsyncClient, part: str) -> None:
    (ready, elapsed) = await _timed(http.get("/readyz"))
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "5"
    body = ready.json()
    assert body["status"] == "not_ready"
    failed = body["checks"][part]
    assert failed["status"] == "error"
    assert failed["error"]  # the kind of failure, e.g. TimeoutError
    assert isinstance(failed["ms"], float)
    assert body["checks"]["database" if part != "database" else "storage"]["status"] == "ok"
    assert elapsed < WITHIN_SECONDS
    assert (await http.get("/healthz")).status_code == 200


async def test_readyz_reports_each_part_and_its_time(base_env: dict[str, str]) -> None:
    async for http, _ in _client(base_env):
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        # The same shape as when not ready (see _ready_fails_on).
        assert body["status"] == "ready"
        assert set(body["checks"]) == {"database", "storage"}
        for part in body["checks"].values():
            assert set(part) == {"status", "ms"}
            assert part["status"] == "ok"
            assert isinstance(part["ms"], float)


async def test_readyz_fails_when_the_photo_folder_is_gone(base_env: dict[str, str]) -> None:
    async for http, resources in _client(base_env):
        shutil.rmtree(resources.storage.root)  # type: ignore[attr-defined]
        await _ready_fails_on(http, "storage")


async def test_redis_refusing_connections_is_a_quick_503(base_env: dict[str, str]) -> None:
    env = {**base_env, "IWM_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}
    async for http, _ in _client(env):
        _unavailable(*await _timed(http.post("/auth/login", json=LOGIN)))
        _unavailable(*await _timed(http.get("/partner/orders/new", headers=BEARER)))
        await _ready_fails_on(http, "redis")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if port_open("127.0.0.1", port):
                break
            time.sleep(0.05)
        yield proc, port
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


async def test_a_hung_redis_is_a_503_within_its_timeout_and_recovers(
    base_env: dict[str, str], private_redis: tuple[subprocess.Popen[bytes], int]
) -> None:
    proc, port = private_redis
    env = {**base_env, "IWM_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    async for http, _ in _client(env):
        assert (await http.post("/auth/login", json=LOGIN)).status_code == 401
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            _unavailable(*await _timed(http.post("/auth/login", json=LOGIN)))
            assert (await http.get("/healthz")).status_code == 200
            await _ready_fails_on(http, "redis")
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        # Back: the client reconnects by itself, no request fails.
        assert (await http.post("/auth/login", json=LOGIN)).status_code == 401
        assert (await http.get("/readyz")).status_code == 200


async def test_postgresql_down_is_a_quick_503(base_env: dict[str, str]) -> None:
    url = f"postgresql+asyncpg://iwm@127.0.0.1:{_closed_port()}/iwm"
    async for http, _ in _client({**base_env, "IWM_DATABASE_URL": url}):
        _unavailable(*await _timed(http.post("/auth/login", json=LOGIN)))
        _unavailable(*await _timed(http.get("/partner/orders/new", headers=BEARER)))
        await _ready_fails_on(http, "database")


async def test_s3_down_is_a_quick_503_and_creates_no_order(base_env: dict[str, str]) -> None:
    env = {
        **base_env,
        "IWM_STORAGE_URL": "s3://photos/orders",
        "IWM_S3_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
    }
    async for http, resources in _client(env):
        kiosk = (await make_world(resources)).kiosks[0]
        upload = http.post(
            f"/kiosk/{kiosk.id}/orders",
            headers=kiosk.headers,
            data={"customerName": "John Doe", "customerEmail": "john@example.com"},
            files={"image": ("photo.jpg", jpeg(), "image/jpeg")},
        )
        _unavailable(*await _timed(upload))
        await _ready_fails_on(http, "storage")
        # What does not need the bucket keeps working.
        beat = await http.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
        assert beat.status_code == 200
