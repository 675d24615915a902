"""A run's log never holds a password: not the user's, not the database's, not Redis' or
the mail server's, even when a request crashes on a dead Redis."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from iwm.core.config import SecretUrl, Settings
from iwm.core.resources import Resources
from tests.factories.kiosk_network import make_user
from tests.support import Profile, embedded_env, free_port, wait_until_healthy

USER_PASSWORD = "Users-Own-Passw0rd-7731"
DB_PASSWORD = "Db-Passw0rd-5521"
REDIS_PASSWORD = "Redis-Passw0rd-8812"
SMTP_PASSWORD = "Smtp-Passw0rd-9934"


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1) if "@" in rest else ("iwm", rest)
    return f"{scheme}://{user.split(':')[0]}:{password}@{host}"


def _serve(env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = tmp / "server.log"
    iwm = Path(sys.executable).parent / "iwm"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(iwm), "serve", "--port", str(port)],
            cwd=tmp,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    wait_until_healthy(proc, base_url, 30, output=log_path.read_text)
    return proc, base_url, log_path


@pytest.mark.parametrize("env_name", ["development", "production"])
async def test_log_of_an_outage_on_dead_redis_holds_no_password(
    profile: Profile, resources: Resources, tmp_path: Path, env_name: str
) -> None:
    if env_name == "production" and not profile.is_production:
        pytest.skip("production mode refuses SQLite")
    user = await make_user(resources)
    env = {
        **profile.env,
        "IWM_ENV": env_name,
        "IWM_LOG_LEVEL": "INFO",
        "IWM_ALLOWED_HOSTS": "127.0.0.1",
        # A Redis nobody listens on: every rate limit check fails.
        "IWM_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0",
        "IWM_SMTP_URL": f"smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:{free_port()}",
    }
    env.pop("IWM_LOG_JSON", None)
    secrets = [USER_PASSWORD, REDIS_PASSWORD, SMTP_PASSWORD]
    if profile.is_production:  # PostgreSQL here trusts loopback, so any password works
        env["IWM_DATABASE_URL"] = _with_password(env["IWM_DATABASE_URL"], DB_PASSWORD)
        secrets.append(DB_PASSWORD)
    proc, base_url, log_path = _serve(env, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            resp = await http.post(
                "/auth/login", json={"email": user.email, "password": USER_PASSWORD}
            )
            # A part that is down is an outage, answered 503 at once, not a crash.
            assert resp.status_code == 503
            assert resp.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert int(resp.headers["retry-after"]) >= 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log = log_path.read_text()
    assert "request.part_unavailable" in log  # the outage is logged, one line, with its cause
    assert "Error 111 connecting" in log or "Connect call failed" in log
    for secret in secrets:
        assert secret not in log
    if env_name == "production":  # production means JSON lines
        lines = [line for line in log.splitlines() if line.strip()]
        assert lines
        for line in lines:
            assert json.loads(line), log


def test_urls_with_passwords_print_masked() -> None:
    settings = Settings(
        database_url=f"postgresql+asyncpg://iwm:{DB_PASSWORD}@db.internal:5432/iwm",
        redis_url=f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0",
        smtp_url=f"smtp://mailer:{SMTP_PASSWORD}@mail.internal:587",
    )
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        for secret in (DB_PASSWORD, REDIS_PASSWORD, SMTP_PASSWORD):
            assert secret not in text
    assert "postgresql+asyncpg://iwm:***@db.internal:5432/iwm" in repr(settings)
    assert isinstance(settings.database_url, SecretUrl)
    assert DB_PASSWORD in settings.database_url.get_secret_value()
    assert Settings(env="production", secret_key="k" * 32).json_logs
    assert not Settings().json_logs


def test_library_warnings_are_log_lines_in_json() -> None:
    # In a process of its own: pytest records warnings itself.
    code = (
        "import warnings\n"
        "from iwm.core.logging import configure_logging\n"
        "configure_logging(json=True)\n"
        "warnings.warn('a decompression bomb, perhaps', UserWarning, stacklevel=1)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "the warning was not logged"
    for line in lines:
        assert "decompression bomb" in json.loads(line)["event"]


def test_workers_sharing_stdout_never_run_two_lines_together(tmp_path: Path) -> None:
    """Two workers answering at once, unbuffered (as containers often run), on one pipe:
    every line of the log is one JSON object."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IWM_")}
    env.update(embedded_env(tmp_path), IWM_LOG_JSON="true", PYTHONUNBUFFERED="1")
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "iwm"), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    # Read as it comes: a full pipe would stop the workers.
    out: list[bytes] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: out.extend(stdout), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(
            proc, base, 60, probe_timeout=2, output=lambda: b"".join(out).decode(errors="replace")
        )

        def hit(i: int) -> int:
            headers = {"X-Request-ID": f"burst-{i}"}
            return httpx.get(f"{base}/healthz", headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(hit, range(400))) == {200}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
    lines = b"".join(out).decode().splitlines()
    assert all(line.strip() for line in lines)
    events = [json.loads(line) for line in lines]
    burst = {e["request_id"] for e in events if str(e.get("request_id", "")).startswith("burst-")}
    assert len(burst) == 400
