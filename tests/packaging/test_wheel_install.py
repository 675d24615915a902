"""The service deploys from its own wheel: built from the sources, installed into a fresh
virtual environment with the runtime lock only, it migrates and serves from an empty folder.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("pytest", "playwright", "moto", "mypy", "ruff", "hypothesis")


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: S603
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without any IWM_ setting: the embedded defaults apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    env["HOME"] = os.environ.get("HOME", str(home))
    return env


def test_wheel_installs_migrates_and_serves_from_an_empty_folder(tmp_path: Path) -> None:
    # Build from a copy: an in-tree build would leave build/ and egg-info behind.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", source)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source)
    (wheel,) = dist.glob("iwm-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    pip = venv / "bin" / "pip"
    _run(pip, "install", "-q", "-r", ROOT / "requirements.lock")
    # The package itself from the built wheel only, never from an index.
    _run(pip, "install", "-q", "--no-index", "--find-links", dist, "--no-deps", "iwm")
    # The runtime lock satisfies every requirement of the wheel, and holds no dev tool.
    _run(pip, "check")
    installed = _run(pip, "list", "--format=freeze").lower()
    names = {line.split("==")[0] for line in installed.splitlines()}
    assert "iwm" in names
    assert not names & set(DEV_ONLY), names & set(DEV_ONLY)
    assert wheel.name.startswith("iwm-")

    workdir = tmp_path / "empty"
    workdir.mkdir()
    env = _clean_env(tmp_path)
    iwm = venv / "bin" / "iwm"
    _run(iwm, "migrate", cwd=workdir, env=env)
    assert (workdir / "iwm.db").exists()

    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603
            [str(iwm), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(
            server, f"http://127.0.0.1:{port}", 60, probe_timeout=2, output=log_path.read_text
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
