"""The fault suite's parts, server and data, built once for all its faults."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import boto3
import httpx
import pytest
from _pytest.terminal import TerminalReporter

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.money import to_minor
from iwm.core.resources import Resources
from iwm.modules.payouts.service import PayoutService
from tests.factories.kiosk_network import PASSWORD, make_world
from tests.factories.money import commissions_of, make_chain, make_product, paid_order
from tests.faults.load import Kiosk, Load, World
from tests.faults.parts import ROOT, AppServer, PrivatePostgres, PrivateRedis, S3Endpoint
from tests.faults.report import RESULTS, table
from tests.support import CHEAP_PASSWORD_HASHING

BUCKET = "iwm-fault-photos"
PAYOUTS = 300
WARM_UP_SECONDS = 3.0
TABLE_FILE = ROOT / "build" / "faults" / "table.txt"


@dataclass
class Parts:
    postgres: PrivatePostgres
    redis: PrivateRedis
    s3: S3Endpoint
    server: AppServer
    env: dict[str, str]
    base: Path

    def s3_keys(self) -> set[str]:
        client = boto3.client(
            "s3",
            endpoint_url=self.s3.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        keys: set[str] = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            # The service's keys, without the storage URL's prefix.
            keys.update(obj["Key"].removeprefix("photos/") for obj in page.get("Contents", []))
        return keys


@pytest.fixture(scope="session")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parts]:
    base = tmp_path_factory.mktemp("faults")
    postgres = PrivatePostgres()
    redis = s3 = server = None
    try:
        redis = PrivateRedis(base)
        s3 = S3Endpoint(BUCKET)
        env = {
            # Production mode with its default timeouts: what an operator runs.
            "IWM_ENV": "production",
            "IWM_ALLOWED_HOSTS": "127.0.0.1",
            "IWM_DATABASE_URL": postgres.url,
            "IWM_REDIS_URL": redis.url,
            "IWM_STORAGE_URL": f"s3://{BUCKET}/photos",
            "IWM_S3_ENDPOINT_URL": s3.url,
            "IWM_SECRET_KEY": "fault-suite-signing-key-0123456789",
            "IWM_SCHEDULER_ENABLED": "false",
            "IWM_LOG_LEVEL": "WARNING",
            # One admin processes every payout of the load; the limits are tested elsewhere.
            "IWM_PAYOUT_PROCESS_LIMIT_PER_MINUTE": "100000",
            "IWM_ADMIN_RATE_LIMIT_PER_MINUTE": "100000",
            **CHEAP_PASSWORD_HASHING,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        upgrade_head(postgres.url)
        server = AppServer(env, base)
        yield Parts(postgres, redis, s3, server, env, base)
    finally:
        for part in (server, s3, redis, postgres):
            if part is not None:
                part.close()


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})


@pytest.fixture(scope="session")
async def world(parts: Parts) -> World:
    """A partner with three kiosks, an admin, and PAYOUTS payout requests waiting."""
    settings = settings_of(parts.env)
    async with Resources.opened(settings) as resources:
        kiosk_world = await make_world(resources, kiosks=3)
        chain = await make_chain(resources, levels=1)
        product = await make_product(resources, price="10000.00", commission="10", points="0")
        order = await paid_order(resources, chain.buyer, product)
        async with resources.sessionmaker() as db:
            (commission,) = await commissions_of(db, order.id)
        async with httpx.AsyncClient(base_url=parts.server.base_url) as http:
            tokens = {}
            for role, user in (("admin", kiosk_world.admin), ("partner", kiosk_world.partner)):
                resp = await http.post(
                    "/auth/login", json={"email": user.email, "password": PASSWORD}
                )
                assert resp.status_code == 200, resp.text
                tokens[role] = resp.json()["token"]
            approved = await http.post(
                f"/api/v1/admin/commissions/{commission.id}/adjust",
                json={"action": "APPROVE", "reason": "fault suite"},
                headers={"Authorization": f"Bearer {tokens['admin']}"},
            )
            assert approved.status_code == 200, approved.text
        payouts = []
        for _ in range(PAYOUTS):
            async with resources.sessionmaker.begin() as db:
                row = await PayoutService(db, resources.settings).request(
                    chain.partners[0].id, to_minor(Decimal("1.00")), account="40817810099910004312"
                )
                payouts.append(str(row.id))
    ready = World(
        base_url=parts.server.base_url,
        kiosks=[Kiosk(str(k.id), k.key) for k in kiosk_world.kiosks],
        partner_token=tokens["partner"],
        admin_token=tokens["admin"],
        payouts=payouts,
    )
    # Both workers warm (connections, caches, first imports) before the first baseline.
    warm_up = Load(ready, tag="warm-up")
    warm_up.start()
    await asyncio.sleep(WARM_UP_SECONDS)
    await warm_up.stop()
    return ready


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if not RESULTS:
        return
    text = table(RESULTS)
    TABLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    TABLE_FILE.write_text(text + "\n")
    terminalreporter.write_sep("=", "faults")
    terminalreporter.write_line(text)
    terminalreporter.write_line(f"(saved in {TABLE_FILE.relative_to(ROOT)})")
