"""A kiosk's long poll in one worker of `iwm serve --workers 2` is woken by the payment
webhook handled by the other worker (real processes, PostgreSQL and Redis).

Which worker holds a connection is read from Linux's /proc: the worker whose file
descriptors include the server side of that TCP connection."""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.payments.models import Payment
from iwm.modules.payments.provider import event_body, sign
from tests.factories.kiosk_network import PASSWORD, make_user
from tests.support import (
    RUN_ID,
    free_port,
    production_available,
    production_env,
    psql,
    wait_until_healthy,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads connections from Linux's /proc"
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _worker_of(workers: list[int], server_port: int, client_port: int) -> int | None:
    """The worker holding the server side of the connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    for pid in workers:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            links = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[tuple[str, dict[str, str], list[int], int]]:
    if not production_available():
        pytest.skip("PostgreSQL or Redis is not reachable")
    tmp = tmp_path_factory.mktemp("workers")
    db_name = f"iwm_workers_{RUN_ID}"
    psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    psql(f"CREATE DATABASE {db_name}")
    env = production_env(db_name, s3_endpoint, "iwm-test-photos", f"iwm_workers_{RUN_ID}")
    upgrade_head(env["IWM_DATABASE_URL"])
    port = free_port()
    iwm = Path(sys.executable).parent / "iwm"
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [str(iwm), "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp,
        env={**os.environ, **env, "IWM_LOG_LEVEL": "WARNING"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        wait_until_healthy(proc, base, 90, output=(tmp / "server.log").read_text)
        workers = _children(proc.pid)
        while len(workers) < 2:
            if time.monotonic() >= deadline:
                pytest.fail(f"{len(workers)} of 2 workers:\n{(tmp / 'server.log').read_text()}")
            time.sleep(0.3)
            workers = _children(proc.pid)
        yield base, env, workers, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return reader, writer, writer.get_extra_info("sockname")[1]


async def _locate(workers: list[int], port: int, client_port: int) -> int | None:
    for _ in range(50):  # the worker accepts the connection within moments
        found = _worker_of(workers, port, client_port)
        if found is not None:
            return found
        await asyncio.sleep(0.02)
    return None


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    await writer.drain()
    raw = await reader.read()  # Connection: close
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def _kiosk_with_a_price(
    http: httpx.AsyncClient, resources: Resources
) -> tuple[dict[str, str], dict[str, str]]:
    """A partner's priced kiosk, made over the API: (the kiosk, the partner's headers)."""
    admin = await make_user(resources, Role.ADMIN)
    partner = await make_user(resources, Role.PARTNER)

    async def token(email: str) -> dict[str, str]:
        resp = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        return {"Authorization": f"Bearer {resp.json()['token']}"}

    admin_h, partner_h = await token(admin.email), await token(partner.email)
    shop = await http.post(
        "/api/v1/admin/shops",
        json={"partnerUserId": str(partner.id), "name": "S", "location": "L"},
        headers=admin_h,
    )
    made = await http.post(
        "/api/v1/admin/kiosks",
        json={"shopId": shop.json()["data"]["id"], "name": "K"},
        headers=admin_h,
    )
    kiosk: dict[str, str] = made.json()["data"]
    priced = await http.post(
        f"/partner/kiosks/{kiosk['id']}/price",
        json={"amount": 4, "currency": "EUR"},
        headers=partner_h,
    )
    assert priced.status_code == 200, priced.text
    return kiosk, partner_h


async def _other_worker(
    workers: list[int], port: int, avoid: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection accepted by a worker other than `avoid`."""
    spare = []
    try:
        for _ in range(40):
            reader, writer, client_port = await _connect(port)
            if await _locate(workers, port, client_port) not in (None, avoid):
                return reader, writer
            spare.append(writer)
    finally:
        for w in spare:
            w.close()
    pytest.fail("no connection reached the second worker")


async def test_a_webhook_in_one_worker_wakes_the_poll_in_the_other(
    two_workers: tuple[str, dict[str, str], list[int], int],
) -> None:
    base, env, workers, port = two_workers
    settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})
    resources = Resources.build(settings)
    secret = env["IWM_PAYMENT_WEBHOOK_SECRET"].encode()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            kiosk, partner_h = await _kiosk_with_a_price(http, resources)
            kiosk_h = {"Authorization": f"Bearer {kiosk['deviceKey']}"}
            rounds = 3
            for _ in range(rounds):
                opened = await http.post(f"/kiosk/{kiosk['id']}/sessions", headers=kiosk_h)
                assert opened.status_code == 201, opened.text
                session_id = opened.json()["id"]
                payment_id = uuid.UUID(opened.json()["paymentUrl"].rsplit("/", 1)[1])
                async with resources.sessionmaker() as db:
                    reference = await db.scalar(
                        select(Payment.provider_reference).where(Payment.id == payment_id)
                    )
                assert reference is not None

                poll_r, poll_w, poll_port = await _connect(port)
                poll_worker = await _locate(workers, port, poll_port)
                assert poll_worker is not None
                poll = asyncio.create_task(
                    _exchange(
                        poll_r,
                        poll_w,
                        (
                            f"GET /kiosk/{kiosk['id']}/sessions/{session_id}?wait=20 HTTP/1.1\r\n"
                            f"Host: 127.0.0.1\r\nAuthorization: Bearer {kiosk['deviceKey']}\r\n"
                            "Connection: close\r\n\r\n"
                        ).encode(),
                    )
                )
                await asyncio.sleep(0.5)
                assert not poll.done()
                hook_r, hook_w = await _other_worker(workers, port, poll_worker)
                body = event_body("payment.succeeded", reference)
                sent = time.monotonic()
                status, answer = await _exchange(
                    hook_r,
                    hook_w,
                    (
                        "POST /api/v1/payments/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Webhook-Signature: {sign(secret, body)}\r\n"
                        "Content-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                    ).encode()
                    + body,
                )
                assert status == 200, answer
                poll_status, poll_body = await asyncio.wait_for(poll, 5)
                assert time.monotonic() - sent < 1.0
                assert (poll_status, json.loads(poll_body)["status"]) == (200, "paid")
                started = await http.post(
                    f"/kiosk/{kiosk['id']}/sessions/{session_id}/start", headers=kiosk_h
                )
                assert started.json()["status"] == "started"
            revenue = await http.get(f"/partner/kiosks/{kiosk['id']}/revenue", headers=partner_h)
            assert revenue.json()["online"] == {"rounds": rounds, "amount": 4 * rounds}
    finally:
        await resources.close()
