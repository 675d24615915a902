"""`wait_until_healthy`, the one wait of the tests that start a server process: it returns
the first 200 of /healthz, and otherwise fails the test saying why, with the server's log,
and leaves no process behind."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port, wait_until_healthy

# A stand-in server: answers /healthz with the status given, after a short start.
SERVER = """
import http.server, sys, time
time.sleep(0.3)
status = int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status if self.path == "/healthz" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


def _start(procs: list[subprocess.Popen[bytes]], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", *args], stdout=out, stderr=subprocess.STDOUT
        )
    procs.append(proc)
    return proc


def test_returns_the_first_200(procs: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    port = free_port()
    proc = _start(procs, tmp_path / "log", SERVER, str(port), "200")

    answer = wait_until_healthy(proc, f"http://127.0.0.1:{port}", 30)

    assert answer.status_code == 200
    assert proc.poll() is None


def test_a_server_that_exits_fails_at_once_with_its_code_and_log(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    code = "import sys; print('cannot bind: boom', flush=True); sys.exit(3)"
    proc = _start(procs, log, code)

    with pytest.raises(pytest.fail.Exception) as failed:
        wait_until_healthy(proc, f"http://127.0.0.1:{free_port()}", 60, output=log.read_text)

    assert "exited with code 3" in str(failed.value)
    assert "cannot bind: boom" in str(failed.value)


@pytest.mark.parametrize(
    ("status", "said"), [("503", "last probe: HTTP 503"), (None, "last probe: ConnectError")]
)
def test_a_server_that_never_answers_200_fails_in_time_and_is_killed(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path, status: str | None, said: str
) -> None:
    port = free_port()
    args = (SERVER, str(port), status) if status else ("import time; time.sleep(60)",)
    proc = _start(procs, tmp_path / "log", *args)

    with pytest.raises(pytest.fail.Exception) as failed:
        wait_until_healthy(proc, f"http://127.0.0.1:{port}", 1.5)

    assert f"http://127.0.0.1:{port}/healthz did not answer 200: not within 1.5 s" in str(
        failed.value
    )
    assert said in str(failed.value)
    assert proc.poll() is not None
