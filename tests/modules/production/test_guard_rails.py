"""Production mode refuses what would run unsafely, each refusal one line naming its
variable; the API's documentation is off there unless asked for."""

import os
import select
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from iwm.core.config import ConfigError, Settings, check_production
from iwm.main import create_app
from tests.support import Profile, free_port

IWM = str(Path(sys.executable).with_name("iwm"))
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


def _iwm(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    return subprocess.run(  # noqa: S603
        [IWM, *args],
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def _one_line(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", [("serve",), ("migrate",), ("demo-data",)])
def test_a_misspelt_env_refuses_to_start(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = _iwm({"IWM_ENV": "prod"}, *command, cwd=tmp_path)
    _one_line(result, "IWM_ENV")
    assert "development" in result.stderr
    assert "production" in result.stderr
    assert not (tmp_path / ".iwm-secret").exists()


def test_production_refuses_sqlite(tmp_path: Path) -> None:
    env = {
        "IWM_ENV": "production",
        "IWM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "IWM_SECRET_KEY": "a-real-secret-0123456789abcdef",
        "IWM_ALLOWED_HOSTS": "api.example.com",
    }
    _one_line(_iwm(env, "serve", cwd=tmp_path), "IWM_DATABASE_URL")
    assert not (tmp_path / "iwm.db").exists()


def test_production_refuses_to_run_without_a_secret_key(tmp_path: Path) -> None:
    env = {
        "IWM_ENV": "production",
        "IWM_DATABASE_URL": "postgresql+asyncpg://iwm@127.0.0.1:5432/iwm",
        "IWM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "IWM_ALLOWED_HOSTS": "api.example.com",
    }
    _one_line(_iwm(env, "serve", cwd=tmp_path), "IWM_SECRET_KEY")
    assert not (tmp_path / ".iwm-secret").exists()


def test_production_refuses_to_run_without_allowed_hosts(tmp_path: Path) -> None:
    env = {
        "IWM_ENV": "production",
        "IWM_DATABASE_URL": "postgresql+asyncpg://iwm@127.0.0.1:5432/iwm",
        "IWM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "IWM_SECRET_KEY": "a-real-secret-0123456789abcdef",
    }
    _one_line(_iwm(env, "serve", cwd=tmp_path), "IWM_ALLOWED_HOSTS")
    with pytest.raises(ConfigError, match="IWM_ALLOWED_HOSTS"):
        create_app(
            Settings(
                env="production",
                database_url="postgresql+asyncpg://iwm@db/iwm",
                redis_url="redis://cache:6379/0",
                secret_key="a-real-secret-0123456789abcdef",
            )
        )


def test_production_refuses_empty_allowed_hosts(tmp_path: Path) -> None:
    env = {
        "IWM_ENV": "production",
        "IWM_DATABASE_URL": "postgresql+asyncpg://iwm@127.0.0.1:5432/iwm",
        "IWM_REDIS_URL": "redis://127.0.0.1:6379/0",
        "IWM_SECRET_KEY": "a-real-secret-0123456789abcdef",
        "IWM_ALLOWED_HOSTS": "",
    }
    _one_line(_iwm(env, "serve", cwd=tmp_path), "IWM_ALLOWED_HOSTS")


@pytest.mark.parametrize("command", [("serve",), ("check",), ("migrate",)])
def test_production_refuses_to_run_without_redis(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {
        "IWM_ENV": "production",
        "IWM_DATABASE_URL": "postgresql+asyncpg://iwm@127.0.0.1:5432/iwm",
        "IWM_SECRET_KEY": "a-real-secret-0123456789abcdef",
        "IWM_ALLOWED_HOSTS": "api.example.com",
    }
    _one_line(_iwm(env, *command, cwd=tmp_path), "IWM_REDIS_URL")
    with pytest.raises(ConfigError, match="IWM_REDIS_URL"):
        check_production(
            Settings(
                env="production",
                database_url="postgresql+asyncpg://iwm@db/iwm",
                secret_key="a-real-secret-0123456789abcdef",
                allowed_hosts=["api.example.com"],
            )
        )


def test_create_app_refuses_too() -> None:
    with pytest.raises(ConfigError, match="IWM_DATABASE_URL"):
        create_app(Settings(env="production", secret_key="a-real-secret-0123456789abcdef"))
    with pytest.raises(ConfigError, match="IWM_SECRET_KEY"):
        check_production(Settings(env="production", database_url="postgresql+asyncpg://iwm@db/iwm"))


def test_demo_data_refuses_in_production_without_force(
    profile: Profile, tmp_path: Path, production_only: None
) -> None:
    env = {**profile.env, "IWM_ENV": "production", "IWM_ALLOWED_HOSTS": "127.0.0.1"}
    result = _iwm(env, "demo-data", cwd=tmp_path)
    _one_line(result, "--force")
    assert "IWM_ENV" in result.stderr


async def _doc_statuses(settings: Settings) -> list[int]:
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return [(await http.get(path)).status_code for path in DOC_PATHS]
    finally:
        await app.state.resources.close()


async def test_docs_are_off_in_production_unless_enabled(
    settings: Settings, production_only: None
) -> None:
    production = settings.model_copy(update={"env": "production", "allowed_hosts": ["127.0.0.1"]})
    assert await _doc_statuses(production) == [404, 404, 404]
    enabled = production.model_copy(update={"docs_enabled": True})
    assert await _doc_statuses(enabled) == [200, 200, 200]


async def test_docs_are_on_in_development(settings: Settings) -> None:
    assert settings.env == "development"
    assert await _doc_statuses(settings) == [200, 200, 200]


def test_several_workers_without_redis_warn_at_start(profile: Profile, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    env.update({k: v for k, v in profile.env.items() if k != "IWM_REDIS_URL"})
    proc = subprocess.Popen(  # noqa: S603
        [IWM, "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "nothing printed"
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "warning" in line
    assert "IWM_REDIS_URL" in line
    assert "2 workers" in line
