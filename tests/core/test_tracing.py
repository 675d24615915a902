"""With an OTLP endpoint configured, each request leaves as a server span carrying its
route template and status, received here by a real OTLP/HTTP endpoint on loopback; with
none, neither the tracing SDK nor the instrumentation is even imported."""

import gzip
import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from iwm.core.migrations import upgrade_head
from tests.support import embedded_env, free_port, wait_until_healthy

IWM = str(Path(sys.executable).with_name("iwm"))


class Collector:
    """An OTLP/HTTP traces endpoint: decodes each POST /v1/traces (protobuf) into spans."""

    def __init__(self) -> None:
        self.spans: queue.Queue[dict[str, Any]] = queue.Queue()
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.paths.append(self.path)
                collector.receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: _value(a.value) for a in span.attributes}
                    self.spans.put(
                        {
                            "trace_id": span.trace_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "attributes": attributes,
                            "resource": resource,
                        }
                    )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value"))


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    yield collector
    collector.close()


def _serve(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [IWM, "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=(cwd / "log.jsonl").open("wb"),
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(proc, base, 60, probe_timeout=2, output=(cwd / "log.jsonl").read_text)
    return proc, base


def test_a_request_is_sent_as_a_span_with_its_route_and_status(
    tmp_path: Path, collector: Collector
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IWM_", "OTEL_"))}
    env.update(embedded_env(tmp_path), IWM_LOG_JSON="true")
    upgrade_head(env["IWM_DATABASE_URL"])
    # The standard variable, as a collector's operator sets it; spans leave within 0.1 s.
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_BSP_SCHEDULE_DELAY="100")
    proc, base = _serve(env, tmp_path)
    try:
        kiosk = uuid.uuid4()
        resp = httpx.get(
            f"{base}/partner/kiosks/{kiosk}", headers={"Authorization": "Bearer nobody"}
        )
        assert resp.status_code == 401
        span = collector.spans.get(timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert collector.paths[0] == "/v1/traces"
    # The probe that found the server up (/healthz) is not traced: this is the first span.
    assert span["name"] == "GET /partner/kiosks/{kiosk_id}"
    assert span["kind"] == 2  # SERVER
    assert span["attributes"]["http.route"] == "/partner/kiosks/{kiosk_id}"
    assert span["attributes"]["http.status_code"] == 401
    assert span["attributes"]["http.method"] == "GET"
    assert str(kiosk) in span["attributes"]["http.target"]
    assert span["resource"]["service.name"] == "iwm"
    assert span["resource"]["service.version"] == "0.1.0"
    assert collector.spans.empty()
    # Its log line names the same trace.
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    (answered,) = [
        line
        for line in lines
        if line["event"] == "request.answered" and line["route"] == span["attributes"]["http.route"]
    ]
    assert answered["trace_id"] == span["trace_id"]


def test_without_an_endpoint_no_tracing_is_loaded(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IWM_", "OTEL_"))}
    env.update(embedded_env(tmp_path))
    # (redis-py loads the SDK's metrics module when it is installed, for its own
    # observability, which stays off unless asked for: not counted here.)
    script = (
        "import sys\n"
        "from iwm.main import create_app\n"
        "app = create_app()\n"
        "assert not getattr(app, '_is_instrumented_by_opentelemetry', False)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', "
        "'opentelemetry.instrumentation', 'opentelemetry.exporter'))))\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
