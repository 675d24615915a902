"""The parts the fault suite breaks: a private PostgreSQL cluster, a private Redis, an S3
endpoint that can be switched off and on, and `iwm serve --workers 2` in front of them.

Each runs in its own temporary folder on a free loopback port, never the shared instances:
the suite stops and restarts them at will."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support import free_port, port_open, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


def _wait(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {seconds} s")


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


class PrivatePostgres:
    """A throwaway cluster (initdb + pg_ctl). As root, the server runs as `postgres`, since
    PostgreSQL refuses to run as root."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        # Its own folder under the system's temporary one: pytest's folders are private to
        # the user running the tests, which the `postgres` user may not be.
        self.dir = Path(tempfile.mkdtemp(prefix="iwm-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"
        )
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.dir}",
                # Process stops and restarts are the faults here, not machine crashes: the
                # data survives them without fsync, and setup runs faster.
                "-c fsync=off",
                "-c max_connections=200",
            ]
        )
        (self.dir / "options").write_text(options)
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "iwm")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/iwm"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.dir, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", *args)

    def start(self) -> None:
        self._ctl("start", "-o", (self.dir / "options").read_text())

    def stop(self) -> None:
        # As `systemctl stop` does: clients are disconnected, the data is kept.
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast", "-o", (self.dir / "options").read_text())

    def ready(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server with append-only persistence, as docs/deploy.md asks: sessions
    survive its restart."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server") or "redis-server"
        self.proc = subprocess.Popen(  # noqa: S603
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self.ready, 10, "redis-server")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()  # SIGTERM: Redis writes its append-only file and exits
        self.proc.wait(10)
        self.proc = None

    def ready(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def close(self) -> None:
        if self.proc is not None:
            self.stop()


S3_SERVER = """
import sys
import boto3
from moto.server import ThreadedMotoServer

port = int(sys.argv[1])
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
boto3.client(
    "s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="testing",
    aws_secret_access_key="testing", region_name="us-east-1",
).create_bucket(Bucket=sys.argv[2])
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "stop":
        server.stop()
        # Closed, not just no longer served: connections are refused, as when it is down.
        server._server.server_close()
    elif line.strip() == "start":
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    print("done", flush=True)
"""


class S3Endpoint:
    """moto's S3 server in a process of its own, whose listener is closed and reopened on
    command: the stored objects live in that process and survive the outage."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.port = free_port()
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", S3_SERVER, str(self.port), bucket],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._expect("ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"the S3 server said {line!r}, not {word!r}")

    def _say(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self._expect("done")

    def stop(self) -> None:
        self._say("stop")

    def start(self) -> None:
        self._say("start")
        _wait(self.ready, 10, "the S3 server")

    def ready(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


class AppServer:
    """`iwm serve --workers 2`, with its log in a file."""

    def __init__(self, env: dict[str, str], base: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / "server.log"
        iwm = Path(sys.executable).parent / "iwm"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [str(iwm), "serve", "--port", str(self.port), "--workers", "2"],
                cwd=base,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_healthy(self.proc, self.base_url, 60, output=self.log_path.read_text)
        _wait(lambda: len(self.workers()) == 2, 30, "two workers")

    def workers(self) -> list[int]:
        """The worker processes (children of the supervisor that serve requests)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            # A killed worker stays a zombie (state Z) until the supervisor reaps it.
            serving = fields[0] != "Z" and b"resource_tracker" not in cmdline
            if int(fields[1]) == self.proc.pid and serving:
                found.append(int(stat.parent.name))
        return sorted(found)

    def kill_worker(self) -> int:
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
