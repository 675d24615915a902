"""Configuration mistakes and unreachable parts fail fast with one line naming the fix;
`iwm check` reaches each part; the traceback shows only with --debug."""

import json
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
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
    missing = _iwm(env, "check", cwd=tmp_path)
    assert missing.returncode == 1
    assert _lines(missing.stderr) == [
        f"iwm: the database file {tmp_path / 'iwm.db'} does not exist: run iwm migrate"
    ]
    upgrade_head(env["IWM_DATABASE_URL"])
    with sqlite3.connect(tmp_path / "iwm.db") as conn:
        (newest,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    behind = _iwm(env, "check", cwd=tmp_path)
    assert behind.returncode == 1
    assert _lines(behind.stderr) == [
        "iwm: the database is not at the newest migration: run iwm migrate"
    ]
    with sqlite3.connect(tmp_path / "iwm.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (newest,))
    after = _iwm(env, "check", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert [line.split(" (")[0] for line in _lines(after.stdout)] == ["ok: database", "ok: storage"]


def test_check_creates_nothing(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    del env["IWM_SECRET_KEY"]  # unset, the service would make .iwm-secret
    result = _iwm(env, "check", cwd=tmp_path)
    assert result.returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    upgrade_head(env["IWM_DATABASE_URL"])
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _iwm(env, "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "photos").exists()
    # The folder it would make at start is named, not made.
    assert f"{tmp_path / 'photos'} is made at start" in result.stdout


def test_a_photo_folder_that_cannot_be_made_is_blamed_on_the_storage(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = {**embedded_env(tmp_path), "IWM_STORAGE_URL": f"file://{tmp_path / 'a-file' / 'photos'}"}
    upgrade_head(env["IWM_DATABASE_URL"])
    result = _iwm(env, "check", cwd=tmp_path)
    assert result.returncode == 1
    assert [line.split(" (")[0] for line in _lines(result.stdout)] == ["ok: database"]
    (line,) = _lines(result.stderr)
    assert line.startswith("iwm: IWM_STORAGE_URL: the photo storage is not usable")
    assert str(tmp_path / "a-file" / "photos") in line
    # Any other command that opens the storage names the folder, not the database.
    cleanup = _iwm(env, "cleanup", cwd=tmp_path)
    assert cleanup.returncode == 1
    (line,) = _lines(cleanup.stderr)
    assert "database" not in line
    assert f"cannot use {tmp_path / 'a-file' / 'photos'}" in line
    assert "IWM_STORAGE_URL" in line


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


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_serve_refuses_a_port_that_does_not_exist(tmp_path: Path, port: str) -> None:
    result = _iwm(embedded_env(tmp_path), "serve", "--port", port, cwd=tmp_path)
    assert result.returncode == 2
    assert "--port" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_says_it_is_serving_only_once_it_answers(tmp_path: Path, workers: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    env.update({**embedded_env(tmp_path), "IWM_LOG_JSON": "true"})
    proc = subprocess.Popen(  # noqa: S603
        [IWM, "serve", "--port", str(port), "--workers", workers],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        stdout = proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
        said = None
        while said is None:
            event = json.loads(lines.get(timeout=60))
            if event["event"] == "serving":
                said = event
        # At once, with no retry: the port answers when the line is out.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert httpx.get(f"{said['url']}/healthz", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("command", ["check", "serve"])
def test_a_rank_plan_file_the_engine_cannot_read_stops_every_command(
    tmp_path: Path, command: str
) -> None:
    # Read only when a sale is booked, a bad plan stopped every booking, silently.
    plan = tmp_path / "plan.json"
    plan.write_text("{}", encoding="utf-8")
    env = {**embedded_env(tmp_path), "IWM_RANK_PLAN_FILE": str(plan)}
    result = _iwm(env, command, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = _lines(result.stderr)
    assert {line.split(":")[1].strip() for line in lines} == {"IWM_RANK_PLAN_FILE"}, lines
    assert any("version" in line for line in lines), lines
    assert all("README" in line for line in lines), lines
    assert "Traceback" not in result.stdout + result.stderr
    missing = _iwm(
        {**env, "IWM_RANK_PLAN_FILE": str(tmp_path / "none.json")}, command, cwd=tmp_path
    )
    assert missing.returncode == 2
    assert _lines(missing.stderr) == [
        f"iwm: IWM_RANK_PLAN_FILE: cannot read {tmp_path / 'none.json'}: No such file or directory"
    ]
