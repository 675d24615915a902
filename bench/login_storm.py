"""`/healthz` latency at rest and during a storm of wrong-password logins.

    .venv/bin/python bench/login_storm.py [--logins 30] [--seconds 10]

Starts `iwm serve` (one worker, embedded default in a temporary folder, production's
password hashing cost, the login limits lifted so that every attempt really hashes) in
its own process, times `GET /healthz` over one keep-alive connection at rest, then again
while `--logins` clients each send wrong-password logins back to back, and prints p50,
p95 and p99 of both. Password hashing runs in worker threads (at most
`IWM_PASSWORD_HASH_CONCURRENCY` at once), so the storm leaves the event loop free.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import KeepAliveClient, percentile, serving

from iwm.core.migrations import upgrade_head

EMAIL = "storm-target@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample_healthz(client: KeepAliveClient, seconds: float, at_most: int) -> list[float]:
    """Wall time of sequential `GET /healthz` (ms) for `seconds` or `at_most` requests."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and len(samples) < at_most:
        started = time.perf_counter()
        if client.get("/healthz", {}, {}) != 200:
            raise RuntimeError("/healthz did not answer 200")
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)
    return samples


def storm(base: str, stop: threading.Event, counts: list[int], index: int) -> None:
    """One client sending wrong-password logins back to back until `stop`."""
    with httpx.Client(base_url=base, timeout=120) as http:
        while not stop.is_set():
            resp = http.post("/auth/login", json={"email": EMAIL, "password": "wrong-guess"})
            if resp.status_code != 401:
                raise RuntimeError(f"login answered {resp.status_code}: {resp.text}")
            counts[index] += 1


def summary(label: str, samples: list[float]) -> str:
    return (
        f"{label:<34}{len(samples):>7}{statistics.median(samples):>9.1f}"
        f"{percentile(samples, 95):>9.1f}{percentile(samples, 99):>9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logins", type=int, default=30, help="concurrent login clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="sampling time per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iwm-login-storm-") as tmp:
        env = {
            **os.environ,
            "IWM_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'iwm.db'}",
            "IWM_STORAGE_URL": f"file://{Path(tmp) / 'photos'}",
            "IWM_SECRET_KEY": "login-storm-bench-secret-0123456789",
            "IWM_SCHEDULER_ENABLED": "false",
            # Every attempt must reach the password check: no limit refuses it early.
            "IWM_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
            "IWM_LOGIN_FAILURES_PER_IP_PER_MINUTE": "1000000",
            "IWM_LOG_LEVEL": "ERROR",
        }
        upgrade_head(env["IWM_DATABASE_URL"])
        iwm = str(Path(sys.executable).with_name("iwm"))
        subprocess.run(  # noqa: S603
            [iwm, "create-user", "--email", EMAIL, "--password", "the-right-password"],
            env=env,
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        with serving(env, free_port()) as base:
            client = KeepAliveClient(base)
            sample_healthz(client, 1.0, 100)  # warm up
            rest = sample_healthz(client, args.seconds, 2000)
            stop = threading.Event()
            counts = [0] * args.logins
            threads = [
                threading.Thread(target=storm, args=(base, stop, counts, i), daemon=True)
                for i in range(args.logins)
            ]
            for thread in threads:
                thread.start()
            time.sleep(2.0)  # every client has a login in flight
            client.reconnect()
            started, logins_before = time.perf_counter(), sum(counts)
            during = sample_healthz(client, args.seconds, 2000)
            elapsed, logins = time.perf_counter() - started, sum(counts) - logins_before
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            client.close()
    print(f"\n{'GET /healthz':<34}{'runs':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    print(summary("at rest", rest))
    print(summary(f"during {args.logins} concurrent wrong logins", during))
    print(f"\nwrong logins answered during the storm: {logins / elapsed:.1f}/s (all 401)")


if __name__ == "__main__":
    main()
