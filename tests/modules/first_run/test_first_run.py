"""A newcomer's first minutes: the command says its version and explains every option,
`make run` says where it listens and how to sign in, `/` leads somewhere, and the API's
documentation works without internet access."""

import os
import queue
import re
import subprocess
import sys
import threading
from importlib.metadata import version
from pathlib import Path
from typing import IO

import httpx
import pytest
import typer.main

from iwm.cli import app as cli_app
from iwm.core.config import Settings
from iwm.main import create_app
from tests.support import Profile, free_port, wait_until_healthy

IWM = str(Path(sys.executable).with_name("iwm"))
ROOT = Path(__file__).resolve().parents[3]


def _env(profile: Profile) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    return {**env, **profile.env}


def test_version() -> None:
    done = subprocess.run(  # noqa: S603
        [IWM, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"iwm {version('iwm')}"


def test_every_option_of_every_command_has_help() -> None:
    group = typer.main.get_command(cli_app)
    commands = getattr(group, "commands", {})
    missing = [
        f"iwm {name or ''} {param.name}"
        for name, command in [(None, group), *commands.items()]
        for param in command.params
        if param.param_type_name == "option" and not (getattr(param, "help", "") or "").strip()
    ]
    assert not missing
    assert len(commands) >= 7


def test_make_run_takes_a_port() -> None:
    done = subprocess.run(
        ["make", "-n", "-o", "install", "run", "PORT=8123"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "serve --host 127.0.0.1 --port 8123" in done.stdout


def _first_line_with(stream: IO[str], needle: str, seconds: float) -> str:
    """The first line of `stream` holding `needle` ("" if the stream ends first), read in
    a thread: select() on the pipe misses a line that already sits in the reader's buffer
    (two log lines written in one go)."""
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            if needle in line:
                found.put(line)
                return
        found.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        return found.get(timeout=seconds)
    except queue.Empty:
        raise AssertionError(f"no line with {needle!r} within {seconds:.0f} s") from None


def test_serve_says_where_it_listens(profile: Profile, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [IWM, "serve", "--port", str(port)],
        env=_env(profile),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        # The line comes once the port answers (after the server's own probe of it, which
        # is logged too); without it, fail rather than wait forever.
        line = _first_line_with(proc.stdout, "serving", seconds=60)
        assert line, "serve ended without saying where it listens"
        assert f"http://127.0.0.1:{port}" in line
        assert f"http://127.0.0.1:{port}/docs" in line
        wait_until_healthy(proc, f"http://127.0.0.1:{port}", 30)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.usefixtures("_clean")
def test_demo_data_names_the_accounts_every_time(profile: Profile) -> None:
    for _ in range(2):
        done = subprocess.run(  # noqa: S603
            [IWM, "demo-data"],
            env=_env(profile),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        assert "demo-password" in done.stdout
        assert "admin@iwm.local" in done.stdout
        assert "partner@iwm.local" in done.stdout


async def _get(settings: Settings, *paths: str) -> list[httpx.Response]:
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return [await http.get(path) for path in paths]
    finally:
        await app.state.resources.close()


async def test_root_leads_to_the_docs_in_development(settings: Settings) -> None:
    (root,) = await _get(settings, "/")
    assert root.status_code in {302, 307}
    assert root.headers["location"] == "/docs"


async def test_root_is_an_index_of_the_surfaces_when_docs_are_off(settings: Settings) -> None:
    off = settings.model_copy(update={"docs_enabled": False})
    (root,) = await _get(off, "/")
    assert root.status_code == 200
    body = root.json()
    assert body["surfaces"]["admin"] == "/api/v1/admin"
    assert body["surfaces"]["partner"] == "/partner"
    assert body["surfaces"]["kiosk"].startswith("/kiosk/")
    assert "/docs" not in root.text


async def test_docs_load_every_file_from_the_service(settings: Settings) -> None:
    docs, redoc = await _get(settings, "/docs", "/redoc")
    assert docs.status_code == redoc.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text + redoc.text)
    assert assets
    # Every script, style sheet and icon is the service's own: nothing from a CDN.
    assert all(url.startswith("/") for url in assets), assets
    assert "fonts.googleapis" not in redoc.text
    answers = await _get(settings, *sorted(set(assets)))
    for url, answer in zip(sorted(set(assets)), answers, strict=True):
        assert answer.status_code == 200, url
        assert len(answer.content) > 1000, url
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    assert any(url.endswith("redoc.standalone.js") for url in assets)
