"""OpenTelemetry tracing: Django requests, SQL (psycopg) and django-q2 tasks.

Off by default and free when off: nothing is instrumented unless `OTEL_EXPORTER_OTLP_ENDPOINT`
is set (e.g. `http://collector:4318`), in which case spans go there over OTLP/HTTP. Every
request span carries `recon.request_id` and `recon.tenant_id`, and every log line carries the
trace id (core.observability), so a reconciliation error leads from a log line to its
whole trace.

Set-up runs once per process at start (AppConfig.ready). The SDK's batch processor re-creates
its export thread in a forked child (os.register_at_fork), so gunicorn and qcluster workers,
which fork after start-up, export from the child.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from opentelemetry import trace

from core.observability import request_id_var, tenant_id_var

_configured = False
F = TypeVar("F", bound=Callable[..., Any])

tracer = trace.get_tracer("recon")


def tracing_setup(*, exporter: Any = None, service_name: str | None = None) -> bool:
    """Instrument Django and psycopg and export spans; returns whether tracing is on.

    `exporter` is for tests (an in-memory exporter); otherwise OTLP/HTTP when the endpoint is set.
    """
    global _configured
    if _configured:
        return True
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if exporter is None and not endpoint:
        return False
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = service_name or os.environ.get("OTEL_SERVICE_NAME", "recon")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(response_hook=_annotate_request_span)
    # The SQL comment would defeat PostgreSQL's statement statistics grouping; spans suffice.
    PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    _configured = True
    return True


def _annotate_request_span(span: trace.Span, request: Any, response: Any) -> None:
    # Runs after our middleware and authentication, so both values are known by now.
    if span.is_recording():
        span.set_attribute("recon.request_id", getattr(request, "request_id", "") or "")
        span.set_attribute("recon.tenant_id", tenant_id_var.get() or "")


def traced_task(func: F) -> F:
    """Wrap a django-q2 task in a span named after it (tasks run outside any request)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(f"task {func.__module__}.{func.__name__}") as span:
            if span.is_recording():
                span.set_attribute("recon.task", f"{func.__module__}.{func.__name__}")
                span.set_attribute("recon.request_id", request_id_var.get() or "")
            return func(*args, **kwargs)

    return cast(F, wrapper)
