"""A request nobody waits for any more does not commit: past its deadline it is answered
504 REQUEST_TIMEOUT, and when its client has gone it is rolled back before the commit.
On SIGTERM a kept-alive connection gets `Connection: close` on its last answer."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from iwm.core.deadline import extend_deadline
from iwm.core.migrations import upgrade_head
from iwm.core.resources import Resources
from iwm.main import create_app
from iwm.modules.orders.models import Order
from tests.factories.images import jpeg
from tests.factories.kiosk_network import count, make_world
from tests.factories.money import fresh
from tests.support import embedded_env, free_port, wait_until_healthy

BOUNDARY = "iwm-test-boundary"


def _upload_body(name: str) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="customerName"\r\n\r\n{name}\r\n',
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name="
        '"image"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n',
    ]
    return parts[0].encode() + parts[1].encode() + jpeg() + f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_a_request_past_its_deadline_is_504_and_creates_nothing(
    resources: Resources, db: AsyncSession, settings: Any
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    app = create_app(settings.model_copy(update={"request_timeout_seconds": 0.001}))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            resp = await http.post(
                f"/kiosk/{kiosk.id}/orders",
                headers=kiosk.headers,
                data={"customerName": "Late Customer"},
                files={"image": ("photo.jpg", jpeg(), "image/jpeg")},
            )
    finally:
        await app.state.resources.close()
    assert resp.status_code == 504
    assert resp.json()["error"]["code"] == "REQUEST_TIMEOUT"
    assert resp.headers["connection"] == "close"
    assert await count(await fresh(db), Order) == 0


async def test_a_long_poll_that_reaches_its_wait_after_its_deadline_fired_does_not_crash() -> None:
    """A library may swallow the cancellation of a request whose deadline fired (a slow
    sign-in lookup, say): the route then moves its deadline on an expiring timeout."""
    loop = asyncio.get_running_loop()
    timeout = asyncio.timeout_at(loop.time())
    request = Request({"type": "http", "state": {"deadline": loop.time(), "timeout": timeout}})
    async with timeout:
        with contextlib.suppress(asyncio.CancelledError):  # what such a library does
            await asyncio.sleep(0.01)
        assert timeout.expired()
        extend_deadline(request, loop.time() + 30)
    assert request.scope["state"]["deadline"] < loop.time()


async def test_an_upload_whose_client_has_gone_is_not_committed(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    app = client._transport.app  # type: ignore[attr-defined]
    body = _upload_body("Gone Customer")
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}  # the kiosk gave up after sending

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/kiosk/{kiosk.id}/orders",
        "raw_path": f"/kiosk/{kiosk.id}/orders".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", f"Bearer {kiosk.key}".encode()),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(len(body)).encode()),
            (b"idempotency-key", uuid.uuid4().hex.encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 499
    assert await count(await fresh(db), Order) == 0


def test_sigterm_answers_a_kept_alive_connection_with_connection_close(tmp_path: Path) -> None:
    env = {**os.environ, **embedded_env(tmp_path), "IWM_SHUTDOWN_DRAIN_SECONDS": "3"}
    upgrade_head(env["IWM_DATABASE_URL"])
    port = free_port()
    iwm = Path(sys.executable).parent / "iwm"
    proc = subprocess.Popen(  # noqa: S603
        [str(iwm), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            first = wait_until_healthy(
                proc, f"http://127.0.0.1:{port}", 30, probe_timeout=10, client=http
            )
            assert first.headers.get("connection") != "close"
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            # The same kept-alive connection: answered, and told to close.
            last = http.get("/healthz")
            assert last.status_code == 200
            assert last.headers["connection"] == "close"
        # uvicorn ends by re-raising the SIGTERM it handled, as a supervisor expects.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
