"""Files the service writes are its own user's only; `iwm create-user` asks for the
password rather than take it from the command line."""

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from iwm.cli import app
from iwm.core.config import Settings, get_settings
from iwm.core.resources import signing_secret
from iwm.core.storage import LocalStorage
from tests.support import Profile

IWM = str(Path(sys.executable).with_name("iwm"))


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files were made readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_migrate_creates_the_sqlite_file_private(tmp_path: Path, umask_022: None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    result = subprocess.run(  # noqa: S603
        [IWM, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert _private(tmp_path / "iwm.db")


def test_generated_secret_and_photos_are_private(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    secret = signing_secret(Settings())
    assert len(secret) == 64
    assert _private(tmp_path / ".iwm-secret")
    assert signing_secret(Settings()) == secret  # read back, not made again
    # A secret file made readable by an older version is tightened.
    (tmp_path / ".iwm-secret").chmod(0o644)
    assert signing_secret(Settings()) == secret
    assert _private(tmp_path / ".iwm-secret")


async def test_stored_photos_are_private(tmp_path: Path, umask_022: None) -> None:
    storage = LocalStorage(tmp_path / "photos", "http://127.0.0.1:8000", b"k" * 32)
    await storage.put("orders/2026/01/01/a.jpg", b"photo", "image/jpeg")
    assert _private(tmp_path / "photos" / "orders/2026/01/01/a.jpg")
    assert _private(tmp_path / "photos" / "orders/2026/01/01")
    for folder in ("orders", "orders/2026", "orders/2026/01"):
        assert _private(tmp_path / "photos" / folder), folder


@pytest.fixture
def cli_env(profile: Profile, _clean: None) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield profile.env
    get_settings.cache_clear()


async def test_create_user_asks_for_the_password_hidden(
    cli_env: dict[str, str], client: httpx.AsyncClient
) -> None:
    password = "Typed-Not-Shown-42"
    # In a thread: the command runs its own event loop.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["create-user", "--email", "asked@example.com", "--role", "PARTNER"],
        input=f"{password}\n{password}\n",
        env=cli_env,
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat for confirmation:" in result.output
    assert password not in result.output
    assert "created PARTNER asked@example.com" in result.output
    login = await client.post(
        "/auth/login", json={"email": "asked@example.com", "password": password}
    )
    assert login.status_code == 200, login.text
