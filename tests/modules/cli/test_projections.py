"""`iwm demo-data` leaves no projection behind its rows: `iwm rebuild-projections --check`
finds no drift, and the analytics dashboard counts the accounts the users list shows, in
every period. `--check` reports a drift and exits 1; a rebuild repairs it."""

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.analytics.models import UsersDaily
from iwm.modules.analytics.periods import Period, Window
from tests.factories.kiosk_network import login, make_user
from tests.modules.cli.test_cli import run_cli
from tests.support import Profile

API = "/api/v1/admin"


@pytest.fixture
def cli_profile(profile: Profile, _clean: None) -> Profile:
    return profile


async def test_demo_data_leaves_no_drift_and_the_dashboard_counts_the_users_list(
    cli_profile: Profile, client: httpx.AsyncClient, resources: Resources
) -> None:
    loaded = run_cli(cli_profile, "demo-data")
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout
    checked = run_cli(cli_profile, "rebuild-projections", "--check")
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "no drift" in checked.stdout
    for name in ("partner_balances", "network_levels", "analytics_rollups"):
        assert name in checked.stdout

    headers = await login(client, await make_user(resources, Role.ADMIN))
    for period in Period:
        window = Window.of(period)
        dashboard = await client.get(
            f"{API}/analytics/dashboard", params={"period": period.value}, headers=headers
        )
        assert dashboard.status_code == 200, dashboard.text
        listed = await client.get(
            f"{API}/users",
            params={"dateFrom": window.first_day.isoformat(), "pageSize": 1},
            headers=headers,
        )
        assert listed.status_code == 200, listed.text
        users = dashboard.json()["data"]["users"]
        assert users["newInPeriod"] == listed.json()["meta"]["pagination"]["total"], period
    everyone = await client.get(f"{API}/users", params={"pageSize": 1}, headers=headers)
    assert users["total"] == everyone.json()["meta"]["pagination"]["total"]


async def test_check_reports_drift_and_exits_1_until_rebuilt(
    cli_profile: Profile, resources: Resources, db: AsyncSession
) -> None:
    await make_user(resources)
    assert run_cli(cli_profile, "rebuild-projections", "--check").returncode == 0
    async with resources.sessionmaker.begin() as s:
        await s.execute(update(UsersDaily).values(registered=UsersDaily.registered + 3))
    drifted = run_cli(cli_profile, "rebuild-projections", "--check")
    assert drifted.returncode == 1, drifted.stdout
    assert "drift found" in drifted.stdout
    assert "analytics_users_daily" in drifted.stdout
    rebuilt = run_cli(cli_profile, "rebuild-projections")
    assert rebuilt.returncode == 0, rebuilt.stdout
    assert run_cli(cli_profile, "rebuild-projections", "--check").returncode == 0
