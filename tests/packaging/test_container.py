"""The Dockerfile and compose.yaml, checked without Docker (this machine has none): the
files they copy exist, the command they run is the real one, and the app's environment in
compose.yaml is settings the service accepts in production, naming compose's own services.
Building the wheel and installing it with the runtime lock, the Dockerfile's steps, run for
real in test_wheel_install.py."""

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from typer.testing import CliRunner

from iwm.cli import app as cli
from iwm.core.config import Settings, production_problems, url_problems

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_the_dockerfile_copies_files_that_exist_and_runs_the_real_command() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    (cmd,) = re.findall(r"^CMD (\[.+\])$", text, re.M)
    command = yaml.safe_load(cmd)
    assert command[:2] == ["iwm", "serve"]
    options = CliRunner().invoke(cli, ["serve", "--help"]).output
    for option in command[2:]:
        if option.startswith("--"):
            assert option in options, option
    assert f"EXPOSE {command[command.index('--port') + 1]}" in text


def test_compose_environment_is_valid_production_settings() -> None:
    compose = _compose()
    services = compose["services"]
    env = services["app"]["environment"]
    assert services["migrate"]["environment"] == env
    iwm = {k[4:].lower(): str(v) for k, v in env.items() if k.startswith("IWM_")}
    unknown = set(iwm) - set(Settings.model_fields)
    assert unknown == set(), unknown
    settings = Settings(**iwm)
    assert settings.is_production
    assert url_problems(settings) == []
    assert production_problems(settings) == []
    # Every part the app is pointed at is a service of the file.
    for url in (
        settings.database_url.get_secret_value(),
        settings.redis_url.get_secret_value() if settings.redis_url else "",
        settings.s3_endpoint_url or "",
        settings.smtp_url.get_secret_value() if settings.smtp_url else "",
    ):
        assert urlsplit(url).hostname in services, url
    bucket = urlsplit(settings.storage_url).netloc
    assert bucket in " ".join(shlex.split(services["bucket"]["entrypoint"]))
    assert services["minio"]["environment"]["MINIO_ROOT_PASSWORD"] == env["AWS_SECRET_ACCESS_KEY"]
    # Redis keeps the sessions across restarts, as docs/deploy.md asks.
    assert "--appendonly" in services["redis"]["command"]
    assert services["migrate"]["command"] == ["iwm", "migrate"]
