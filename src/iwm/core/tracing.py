"""OpenTelemetry tracing: a server span per request (method, route template, status),
sent over OTLP/HTTP, when an endpoint is configured (`IWM_OTEL_ENDPOINT`, or the standard
`OTEL_EXPORTER_OTLP_ENDPOINT`).

Each request's log lines carry its `trace_id`. Unset, neither the tracing SDK nor the
instrumentation is imported and no middleware is added: tracing costs nothing. Set, each
process has its own tracer provider (the app's, not the global one) whose spans
leave in batches from a background thread; the rest of the standard `OTEL_*` variables
apply (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_SAMPLER`, `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`).
"""

import os
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI

from iwm.core.config import Settings

TRACES_PATH = "/v1/traces"
# Probes and scrapes arrive every few seconds from every balancer and scraper: spans of
# nothing. Regular expressions searched in the full URL.
UNTRACED = r"/healthz$,/readyz$,/metrics$"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint (`http://collector:4318`), as the
    standard variable means it; a URL already ending in /v1/traces is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else f"{endpoint}{TRACES_PATH}"


def install_tracing(app: FastAPI, settings: Settings) -> Callable[[], None] | None:
    """Traces `app`'s requests when an endpoint is configured; the function that sends
    what is left and stops (call it at shutdown), or None when tracing is off."""
    if not settings.otel_endpoint:
        return None
    # Imported only here: without an endpoint none of it is loaded.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    attributes = {"service.version": app.version}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "iwm"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(settings.otel_endpoint)))
    )
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", UNTRACED),
        # One span per request: the ASGI receive/send sub-spans say nothing more.
        exclude_spans=["receive", "send"],
        server_request_hook=_log_trace_id,
    )
    return provider.shutdown


def _log_trace_id(span: Any, _scope: dict[str, Any]) -> None:
    """The request's log lines (`request.answered` among them) carry its trace id, to go
    from a line to its trace; cleared with the request id when the request is done."""
    context = span.get_span_context()
    if context.is_valid:
        structlog.contextvars.bind_contextvars(trace_id=format(context.trace_id, "032x"))
