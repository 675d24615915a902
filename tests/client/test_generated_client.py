"""A typed client generated from the OpenAPI document with openapi-python-client works
against the live server: login, partner orders, kiosk heartbeat, admin users list, payout
approve, each answer parsed into its model (not None).

openapi-python-client pins a Typer older than the service's, so it is installed from the
package registry into a throwaway virtual environment of its own; the generated package
needs only httpx, attrs and python-dateutil, which the project's environment has."""

import asyncio
import importlib
import inspect
import json
import os
import subprocess
import sys
import typing
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from iwm.core.config import Settings
from iwm.core.migrations import upgrade_head
from iwm.core.principal import Role
from iwm.core.resources import Resources
from tests.factories.kiosk_network import PASSWORD, make_order, make_user, make_world
from tests.factories.money import (
    commissions_of,
    make_chain,
    make_product,
    paid_order,
    request_payout,
)
from tests.support import embedded_env, free_port, wait_until_healthy

GENERATOR = "openapi-python-client==0.29.1"
PACKAGE = "iwm_api_client"


def _operation(name: str) -> ModuleType:
    """The generated module of an operation id (api/<tag>/<operation id>.py)."""
    root = Path(importlib.import_module(PACKAGE).__file__ or "").parent / "api"
    (found,) = list(root.rglob(f"{name}.py"))
    dotted = ".".join(found.relative_to(root.parent).with_suffix("").parts)
    return importlib.import_module(f"{PACKAGE}.{dotted}")


def _body(module: ModuleType, values: dict[str, Any]) -> Any:
    model = inspect.signature(module.sync_detailed).parameters["body"].annotation
    if isinstance(model, str):
        model = getattr(importlib.import_module(f"{PACKAGE}.models"), model.split(" |")[0])
    # An optional body is `Model | Unset`: the model is the member that parses dicts.
    candidates = [m for m in typing.get_args(model) if hasattr(m, "from_dict")] or [model]
    return candidates[0].from_dict(values)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    base = tmp_path_factory.mktemp("client-server")
    env = {**os.environ, **embedded_env(base), "IWM_LOGIN_ATTEMPTS_PER_MINUTE": "1000"}
    upgrade_head(env["IWM_DATABASE_URL"])
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "iwm"), "serve", "--port", str(port)],
        cwd=base,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, url, 90, probe_timeout=5)
        yield url, env
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory, server: tuple[str, dict[str, str]]
) -> Iterator[Path]:
    """The generated client package's parent folder, from the document the server serves."""
    base = tmp_path_factory.mktemp("client")
    env_dir = base / "generator"
    venv.create(env_dir, with_pip=True)
    pip = env_dir / "bin" / "pip"
    installed = subprocess.run(  # noqa: S603
        [str(pip), "install", "-q", "--disable-pip-version-check", GENERATOR],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = embedded_env(base)
    settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})
    from iwm.main import create_app

    spec_path = base / "openapi.json"
    spec_path.write_text(json.dumps(create_app(settings).openapi()))
    done = subprocess.run(  # noqa: S603
        [
            str(env_dir / "bin" / "openapi-python-client"),
            "generate",
            "--path",
            str(spec_path),
            "--output-path",
            str(base / "out"),
            "--meta",
            "none",
            "--overwrite",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=base,
        env={**os.environ, "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # Every schema and answer made it into the client (a schema it cannot read is dropped
    # with a warning, and its operations then parse every answer as None).
    said = done.stdout + done.stderr
    assert "Unable to process schema" not in said, said[-4000:]
    assert "Cannot parse" not in said, said[-4000:]
    # With --meta none the package is the output folder itself.
    package = base / PACKAGE
    (base / "out").rename(package)
    sys.path.insert(0, str(base))
    yield base
    sys.path.remove(str(base))


async def _data(url: str, env: dict[str, str]) -> dict[str, str]:
    settings = Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("IWM_")})
    async with Resources.opened(settings) as resources:
        staff = await make_user(resources, Role.ADMIN)
        world = await make_world(resources)
        await make_order(resources, world.kiosks[0], customer_name="Client Walk")
        chain = await make_chain(resources, levels=1)
        product = await make_product(resources, price="1000.00", commission="10", points="0")
        order = await paid_order(resources, chain.buyer, product)
        async with resources.sessionmaker() as db:
            (commission,) = await commissions_of(db, order.id)
        async with httpx.AsyncClient(base_url=url) as http:
            token = (
                await http.post("/auth/login", json={"email": staff.email, "password": PASSWORD})
            ).json()["token"]
            approved = await http.post(
                f"/api/v1/admin/commissions/{commission.id}/adjust",
                json={"action": "APPROVE", "reason": "ok"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert approved.status_code == 200, approved.text
        payout = await request_payout(resources, chain.partners[0], "10.00")
    kiosk = world.kiosks[0]
    return {
        "admin": staff.email,
        "partner": world.partner.email,
        "kiosk_id": str(kiosk.id),
        "kiosk_key": kiosk.key,
        "payout_id": str(payout.id),
    }


def test_a_generated_client_walks_the_main_operations(
    generated: Path, server: tuple[str, dict[str, str]]
) -> None:
    url, env = server
    data = asyncio.run(_data(url, env))
    client_module = importlib.import_module(f"{PACKAGE}.client")
    anonymous = client_module.Client(base_url=url)

    login = _operation("auth_login")
    tokens = {}
    for who in ("admin", "partner"):
        resp = login.sync_detailed(
            client=anonymous, body=_body(login, {"email": data[who], "password": PASSWORD})
        )
        assert resp.status_code == 200, resp.content
        assert resp.parsed is not None
        tokens[who] = resp.parsed.token

    def signed(token: str) -> Any:
        return client_module.AuthenticatedClient(base_url=url, token=token)

    orders = _operation("partner_orders_list").sync_detailed(client=signed(tokens["partner"]))
    assert orders.status_code == 200
    assert [o.customer_name for o in orders.parsed] == ["Client Walk"]

    beat = _operation("kiosk_heartbeat").sync_detailed(
        data["kiosk_id"], client=signed(data["kiosk_key"])
    )
    assert beat.status_code == 200
    assert beat.parsed is not None
    assert beat.parsed.status == "active"

    users = _operation("admin_users_list").sync_detailed(client=signed(tokens["admin"]))
    assert users.status_code == 200
    assert users.parsed is not None
    listed = users.parsed.to_dict()["data"]
    assert data["partner"] in json.dumps(listed)

    approve = _operation("admin_payouts_approve")
    approved = approve.sync_detailed(
        data["payout_id"], client=signed(tokens["admin"]), body=_body(approve, {"note": "ok"})
    )
    assert approved.status_code == 200, approved.content
    assert approved.parsed is not None
    assert approved.parsed.to_dict()["data"]["id"] == data["payout_id"]
