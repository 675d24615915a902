"""The `iwm` command line, run as a user would run it, against each profile's database."""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.modules.kiosks.models import Kiosk
from iwm.modules.scheduler.models import JobRun
from iwm.modules.users.models import User
from tests.support import Profile, free_port, wait_until_healthy

IWM = str(Path(sys.executable).with_name("iwm"))


def run_cli(
    profile: Profile, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **profile.env}
    return subprocess.run(  # noqa: S603
        [IWM, *args], env=env, capture_output=True, text=True, timeout=300, check=False, cwd=cwd
    )


@pytest.fixture
def cli_profile(profile: Profile, _clean: None) -> Profile:
    return profile


def test_create_user_then_refuse_the_same_email(cli_profile: Profile) -> None:
    ok = run_cli(
        cli_profile,
        "create-user",
        "--email",
        "Ops@Example.com",
        "--password",
        "long-enough-pass",
        "--role",
        "ADMIN",
    )
    assert ok.returncode == 0, ok.stderr
    assert "created ADMIN ops@example.com" in ok.stdout
    again = run_cli(
        cli_profile,
        "create-user",
        "--email",
        "ops@example.com",
        "--password",
        "long-enough-pass",
        "--role",
        "USER",
    )
    assert again.returncode == 1
    assert "EMAIL_ALREADY_EXISTS" in again.stdout
    bad_role = run_cli(
        cli_profile,
        "create-user",
        "--email",
        "x@example.com",
        "--password",
        "long-enough-pass",
        "--role",
        "KING",
    )
    assert bad_role.returncode == 2


async def test_demo_data_is_safe_to_run_twice(cli_profile: Profile, db: AsyncSession) -> None:
    first = run_cli(cli_profile, "demo-data")
    assert first.returncode == 0, first.stderr + first.stdout
    # Not at a terminal: the accounts and keys alone, no progress bar in the file.
    assert "━" not in first.stdout
    assert "━" not in first.stderr
    kiosks = len(list((await db.execute(select(Kiosk.id))).scalars()))
    users = len(list((await db.execute(select(User.id))).scalars()))
    assert kiosks >= 4
    second = run_cli(cli_profile, "demo-data")
    assert second.returncode == 0
    assert "already loaded" in second.stdout
    assert len(list((await db.execute(select(Kiosk.id))).scalars())) == kiosks
    assert len(list((await db.execute(select(User.id))).scalars())) == users


def test_cleanup_command_prints_a_report(cli_profile: Profile) -> None:
    dry = run_cli(cli_profile, "cleanup", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout
    real = run_cli(cli_profile, "cleanup")
    assert real.returncode == 0
    assert "orders" in real.stdout


def test_reconcile_payouts_command_reports_what_it_did(cli_profile: Profile) -> None:
    done = run_cli(cli_profile, "reconcile-payouts")
    assert done.returncode == 0, done.stderr
    assert "payouts completed 0, still sent 0, failed 0" in done.stdout


def test_qualify_ranks_command_refuses_an_open_month_and_qualifies_once(
    cli_profile: Profile,
) -> None:
    refused = run_cli(cli_profile, "qualify-ranks", "--period", "2999-01")
    assert refused.returncode == 2
    assert "period: the month has not ended yet" in refused.stderr
    done = run_cli(cli_profile, "qualify-ranks", "--period", "2020-01")
    assert done.returncode == 0, done.stderr
    assert "ranks for 2020-01 (plan 2026.1): 0 partners, 0 promoted" in done.stdout
    again = run_cli(cli_profile, "qualify-ranks", "--period", "2020-01")
    assert again.returncode == 0, again.stderr
    assert "already qualified: nothing changed" in again.stdout


def test_distribute_returns_command_refuses_an_open_month_and_reports(
    cli_profile: Profile,
) -> None:
    refused = run_cli(cli_profile, "distribute-returns", "--period", "2999-01")
    assert refused.returncode == 2
    assert "period: the month has not ended yet" in refused.stderr
    done = run_cli(cli_profile, "distribute-returns", "--period", "2020-01")
    assert done.returncode == 0, done.stderr
    assert "returns for 2020-01: 0 credited (0), 0 already credited before" in done.stdout


@pytest.fixture
def server(cli_profile: Profile, tmp_path: Path) -> Iterator[str]:
    """`iwm serve` in its own process, with the daily job due at once."""
    port = free_port()
    env = {
        **os.environ,
        **cli_profile.env,
        "IWM_SCHEDULER_ENABLED": "true",
        "IWM_CLEANUP_HOUR_UTC": "0",
    }
    proc = subprocess.Popen(  # noqa: S603
        [IWM, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, base, 10)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_serve_answers_and_runs_the_daily_cleanup(server: str, db: AsyncSession) -> None:
    # The server runs its daily jobs as it starts: on a loaded machine its first answers
    # may take longer than httpx's 5 s default.
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        assert (await http.get("/readyz")).json()["status"] == "ready"
        assert (await http.get("/openapi.json")).status_code == 200
    run = None
    for _ in range(50):
        run = (await db.execute(select(JobRun).where(JobRun.job == "cleanup"))).scalar_one_or_none()
        if run is not None and run.finished_at is not None:
            break
        await db.rollback()
        await asyncio.sleep(0.1)
    assert run is not None
    assert run.job == "cleanup"
    assert run.finished_at is not None
    # The monthly rank qualification is checked at the same hour: last month, nobody yet.
    ranks = None
    for _ in range(300):
        await db.rollback()
        ranks = (
            await db.execute(select(JobRun).where(JobRun.job == "rank-qualification"))
        ).scalar_one_or_none()
        if ranks is not None and ranks.finished_at is not None:
            break
        await asyncio.sleep(0.1)
    assert ranks is not None
    assert ranks.result is not None
    assert ranks.result["partners"] == 0


def _as_terminal(profile: Profile, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as run at a terminal (Rich draws its progress bar), its two streams
    captured apart, escape codes removed."""
    env = {**os.environ, **profile.env, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
    result = subprocess.run(  # noqa: S603
        [IWM, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    ansi = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
    result.stdout = ansi.sub("", result.stdout)
    result.stderr = ansi.sub("", result.stderr)
    return result


@pytest.mark.parametrize(
    ("args", "bar", "printed"),
    [
        (("reconcile-payouts",), "reconcile", "payouts completed 0, still sent 0, failed 0"),
        # (Run twice below: the second says the month was already qualified.)
        (("qualify-ranks", "--period", "2020-03"), "qualify", "ranks for 2020-03"),
        (
            ("distribute-returns", "--period", "2020-03"),
            "distribute",
            "returns for 2020-03: 0 credited (0), 0 already credited before",
        ),
        (("rebuild-projections",), "projections", "rebuilt; no drift"),
        (("rebuild-projections", "--check"), "projections", "no drift"),
        (("cleanup", "--dry-run"), "cleanup", "would remove"),
    ],
)
def test_long_commands_show_progress_on_stderr_and_print_their_result_on_stdout(
    cli_profile: Profile, args: tuple[str, ...], bar: str, printed: str
) -> None:
    result = _as_terminal(cli_profile, *args)
    assert result.returncode == 0, result.stderr
    assert printed in result.stdout
    # The bar (its description and percentage), drawn then cleared, on stderr only.
    assert bar in result.stderr
    assert "%" in result.stderr
    assert "%" not in result.stdout
    # Not at a terminal: the result alone, no bar.
    quiet = run_cli(cli_profile, *args)
    assert quiet.returncode == 0, quiet.stderr
    assert printed in quiet.stdout
    assert quiet.stderr == ""


def test_demo_data_shows_progress_and_still_prints_its_accounts(cli_profile: Profile) -> None:
    result = _as_terminal(cli_profile, "demo-data")
    assert result.returncode == 0, result.stderr
    assert "demo data" in result.stderr
    assert "demo accounts (password" in result.stdout
    assert "demo accounts" not in result.stderr


def test_create_user_password_is_optional_and_asked_for_when_missing(
    cli_profile: Profile,
) -> None:
    helped = run_cli(cli_profile, "create-user", "--help")
    assert helped.returncode == 0
    block = helped.stdout[helped.stdout.index("--password") :].split("--role")[0]
    assert "required" not in block  # --email is; --password is asked for instead
    env = {**os.environ, **cli_profile.env}
    asked = subprocess.run(  # noqa: S603
        [IWM, "create-user", "--email", "asked@example.com"],
        input="long-enough-pass\nlong-enough-pass\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr
    assert "created USER asked@example.com" in asked.stdout
