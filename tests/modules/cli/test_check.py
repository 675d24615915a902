"""Configuration mistakes and unreachable parts fail fast with one line naming the fix;
`iwm check` reaches each part; the traceback shows only with --debug."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iwm.core.migrations import upgrade_head
from tests.support import embedded_env, free_port

IWM = str(Path(sys.executable).with_name("iwm"))
STORAGE_FORM = "IWM_STORAGE_URL must be file:///absolute/path or s3://bucket/prefix"


def _iwm(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    return subprocess.run(  # noqa: S603
        [IWM, *args],
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _closed_port() -> int:
    return free_port()


@pytest.mark.parametrize("url", ["postgres://iwm@db/iwm", "postgresql://iwm@db/iwm"])
@pytest.mark.parametrize("command", ["check", "migrate", "serve"])
def test_a_postgresql_url_without_the_driver_says_which_to_use(
    tmp_path: Path, url: str, command: str
) -> None:
    result = _iwm({"IWM_DATABASE_URL": url}, command, cwd=tmp_path)
    assert result.returncode == 2
    lines = _lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "IWM_DATABASE_URL" in lines[0]
    assert "use postgresql+asyncpg://" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("url", ["ftp://host/photos", "/var/photos", "photos", "s3://"])
@pytest.mark.parametrize("command", ["check", "serve"])
def test_a_storage_url_of_no_known_form_says_which_forms_work(
    tmp_path: Path, url: str, command: str
) -> None:
    result = _iwm({"IWM_STORAGE_URL": url}, command, cwd=tmp_path)
    assert result.returncode == 2
    assert _lines(result.stderr) == [f"iwm: {STORAGE_FORM}"]


def test_check_passes_on_a_migrated_service_and_asks_for_migrate_otherwise(
    tmp_path: Path,
) -> None:
    env = embedded_env(tmp_path)
    before = _iwm(env, "check", cwd=tmp_path)
    assert before.returncode == 1
    assert _lines(before.stderr) == [
        "iwm: the database is not at the newest migration: run iwm migrate"
    ]
    upgrade_head(env["IWM_DATABASE_URL"])
    after = _iwm(env, "check", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert [line.split(" (")[0] for line in _lines(after.stdout)] == ["ok: database", "ok: storage"]


def test_check_names_each_unreachable_part_in_one_line(tmp_path: Path) -> None:
    env = {
        **embedded_env(tmp_path),
        "IWM_DATABASE_URL": f"postgresql+asyncpg://iwm@127.0.0.1:{_closed_port()}/iwm",
        "IWM_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
    }
    started = time.monotonic()
    result = _iwm(env, "check", cwd=tmp_path)
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    lines = _lines(result.stderr)
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("iwm: IWM_DATABASE_URL: cannot reach the database at 127.0.0.1:")
    assert lines[1].startswith("iwm: IWM_REDIS_URL: cannot reach Redis")
    assert [line.split(" (")[0] for line in _lines(result.stdout)] == ["ok: storage"]
    assert "Traceback" not in result.stdout + result.stderr


def test_migrate_with_the_database_down_is_one_line_and_debug_shows_the_traceback(
    tmp_path: Path,
) -> None:
    env = {
        **embedded_env(tmp_path),
        "IWM_DATABASE_URL": f"postgresql+asyncpg://iwm@127.0.0.1:{_closed_port()}/iwm",
    }
    short = _iwm(env, "migrate", cwd=tmp_path)
    assert short.returncode == 1
    lines = _lines(short.stderr)
    assert len(lines) == 1, short.stderr
    assert "cannot reach the database at 127.0.0.1:" in lines[0]
    assert "IWM_DATABASE_URL" in lines[0]
    assert "--debug" in lines[0]
    assert "Traceback" not in short.stdout + short.stderr
    full = _iwm(env, "migrate", "--debug", cwd=tmp_path)
    assert full.returncode == 1
    assert "Traceback" in full.stderr
    assert "ConnectionRefusedError" in full.stderr


def test_serve_on_a_busy_port_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = _iwm(embedded_env(tmp_path), "serve", "--port", str(port), cwd=tmp_path)
    assert time.monotonic() - started < 30
    assert result.returncode != 0
    lines = _lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
