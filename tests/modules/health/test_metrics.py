"""/metrics counts requests by route template and status, and shows payouts by status; every
request writes one `request.answered` log line with its route, status, time and caller."""

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.resources import Resources
from tests.factories.kiosk_network import PASSWORD, KioskHandle, PartnerWorld, make_world
from tests.factories.money import (
    API,
    admin,
    commissions_of,
    make_chain,
    make_product,
    paid_order,
    request_payout,
)
from tests.support import embedded_env, free_port, wait_until_healthy

IWM = Path(sys.executable).parent / "iwm"


def _value(text: str, name: str, **labels: str) -> float:
    """The sample of `name` with exactly these labels (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    kiosk = (await make_world(resources)).kiosks[0]
    before = (await client.get("/metrics")).text
    for _ in range(3):
        assert (await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)).is_success
    assert (await client.get(f"/kiosk/{kiosk.id}/no-such-thing")).status_code == 404

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    beat = {"method": "POST", "route": "/kiosk/{kiosk_id}/heartbeat", "status": "200"}
    name = "iwm_http_requests_total"
    assert _value(text, name, **beat) - _value(before, name, **beat) == 3
    # Unknown paths share one series, whatever their ids.
    lost = {"method": "GET", "route": "unmatched", "status": "404"}
    assert _value(text, name, **lost) - _value(before, name, **lost) == 1
    assert str(kiosk.id) not in text
    assert 'iwm_http_request_duration_seconds_bucket{le="0.005",method="POST"' in text
    assert "iwm_db_pool_connections_in_use" in text or resources.settings.is_sqlite


async def test_documentation_and_static_files_are_counted_by_their_route(
    client: httpx.AsyncClient,
) -> None:
    # Not FastAPI routes (the OpenAPI document, mounted folders): named all the same.
    paths = {
        "/openapi.json": "/openapi.json",
        "/docs": "/docs",
        "/redoc": "/redoc",
        "/docs/static/swagger-ui.css": "/docs/static/{path}",
        "/docs/static/no-such-file.js": "/docs/static/{path}",
    }
    before = (await client.get("/metrics")).text
    statuses = {path: (await client.get(path)).status_code for path in paths}
    assert statuses == {path: 404 if "no-such" in path else 200 for path in paths}
    text = (await client.get("/metrics")).text
    name = "iwm_http_requests_total"
    for path, route in paths.items():
        labels = {"method": "GET", "route": route, "status": str(statuses[path])}
        assert _value(text, name, **labels) - _value(before, name, **labels) >= 1, path
    lost = {"method": "GET", "route": "unmatched", "status": "200"}
    assert _value(text, name, **lost) == _value(before, name, **lost)


async def test_metrics_show_payouts_by_status(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin(client, resources)
    chain = await make_chain(resources, levels=1)
    product = await make_product(resources, price="1000.00", commission="10", points="0")
    order = await paid_order(resources, chain.buyer, product)
    (commission,) = await commissions_of(db, order.id)
    approved = await client.post(
        f"{API}/commissions/{commission.id}/adjust",
        json={"action": "APPROVE", "reason": "ok"},
        headers=headers,
    )
    assert approved.status_code == 200
    before = (await client.get("/metrics")).text
    await request_payout(resources, chain.partners[0], "10.00")
    await request_payout(resources, chain.partners[0], "5.00")
    text = (await client.get("/metrics")).text
    assert _value(text, "iwm_payouts", status="PENDING") == 2
    assert _value(before, "iwm_payouts", status="PENDING") == 0
    assert 'iwm_payouts{status="COMPLETED"} 0.0' in text


async def _world(settings: Settings) -> PartnerWorld:
    async with Resources.opened(settings) as resources:
        return await make_world(resources)


def _poll_once(base: str, kiosk: KioskHandle, token: str, request_id: str) -> None:
    """The partner prices the kiosk's round, the kiosk opens a session and polls it once."""
    priced = httpx.post(
        f"{base}/partner/kiosks/{kiosk.id}/price",
        json={"amount": 3, "currency": "EUR"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert priced.status_code == 200, priced.text
    opened = httpx.post(f"{base}/kiosk/{kiosk.id}/sessions", headers=kiosk.headers)
    assert opened.status_code == 201, opened.text
    polled = httpx.get(
        f"{base}/kiosk/{kiosk.id}/sessions/{opened.json()['id']}",
        headers={**kiosk.headers, "X-Request-ID": request_id},
    )
    assert polled.status_code == 200


def test_two_workers_count_together_and_log_each_request(tmp_path: Path) -> None:
    """`iwm serve --workers 2`: a scrape answered by either worker counts the requests of
    both; each request is one JSON log line naming its caller."""
    env = {**os.environ, **embedded_env(tmp_path), "IWM_LOG_JSON": "true", "IWM_LOG_LEVEL": "INFO"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    upgrade_head(env["IWM_DATABASE_URL"])
    settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})
    world = asyncio.run(_world(settings))
    kiosk = world.kiosks[0]
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(IWM), "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, base, 90, probe_timeout=2, output=log_path.read_text)
        sent = 40
        for i in range(sent):  # a new connection each: both workers answer some
            resp = httpx.get(f"{base}/healthz", headers={"X-Request-ID": f"probe-{i}"})
            assert resp.status_code == 200
        token = httpx.post(
            f"{base}/auth/login", json={"email": world.partner.email, "password": PASSWORD}
        ).json()["token"]
        read = httpx.get(
            f"{base}/partner/orders/new",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "who-partner"},
        )
        assert read.status_code == 200
        beat = httpx.post(
            f"{base}/kiosk/{kiosk.id}/heartbeat",
            headers={**kiosk.headers, "X-Request-ID": "who-kiosk"},
        )
        assert beat.status_code == 200
        # A long poll checks the device key its own way, and is named all the same.
        _poll_once(base, kiosk, token, "who-poll")
        scrapes = [httpx.get(f"{base}/metrics").text for _ in range(4)]
    finally:
        proc.terminate()
        proc.wait(30)
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    counted = [_value(text, "iwm_http_requests_total", **labels) for text in scrapes]
    assert min(counted) >= sent, counted
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    probes = [x for x in lines if str(x.get("request_id", "")).startswith("probe-")]
    assert len(probes) == sent
    assert {x["event"] for x in probes} == {"request.answered"}
    assert {(x["method"], x["route"], x["status"]) for x in probes} == {("GET", "/healthz", 200)}
    assert all(isinstance(x["ms"], float) and x["principal"] is None for x in probes)
    callers = {x["request_id"]: (x["route"], x["principal"]) for x in lines if "request_id" in x}
    assert callers["who-partner"] == ("/partner/orders/new", str(world.partner.id))
    assert callers["who-kiosk"] == ("/kiosk/{kiosk_id}/heartbeat", f"kiosk:{kiosk.id}")
    assert callers["who-poll"] == (
        "/kiosk/{kiosk_id}/sessions/{session_id}",
        f"kiosk:{kiosk.id}",
    )
