"""OpenTelemetry tracing: Django requests, SQL (psycopg) and django-q2 tasks.

Off by default and free when off: nothing is instrumented unless `OTEL_EXPORTER_OTLP_ENDPOINT`
is set (e.g. `http://collector:4318`), in which case spans go there over OTLP/HTTP. Every
request span carries `recon.request_id` and `recon.tenant_id`, and every log line carries the
trace id (core.observability), so a reconciliation error leads from a log line to its
whole trace.

Set-up runs once per process at start (AppConfig.ready). The SDK's batch processor re-creates
its export thread in a forked child (os.register_at_fork), so gunicorn and qcluster workers,
which fork after start-up, export from the child.

A task continues the trace of whatever queued it: `async_task` puts the current trace context
(W3C `traceparent`), request id and tenant id into the task's package (django-q2's `pre_enqueue`
signal, under TASK_CONTEXT_KEY), and the worker makes them current around the task
(`pre_execute` / `post_execute_in_worker`), so a matching run's span is a child of the request
whose commit queued it, and its log lines carry that request's id.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context

from core.observability import request_id_var, tenant_id_var

_configured = False
F = TypeVar("F", bound=Callable[..., Any])

# The key of a django-q2 task package that carries the context of whoever queued it.
TASK_CONTEXT_KEY = "recon_trace_context"
_REQUEST_ID = "recon-request-id"
_TENANT_ID = "recon-tenant-id"

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
    _task_context_connect()
    _configured = True
    return True


def _annotate_request_span(span: trace.Span, request: Any, response: Any) -> None:
    # Runs after our middleware and authentication, so both values are known by now.
    if span.is_recording():
        span.set_attribute("recon.request_id", getattr(request, "request_id", "") or "")
        span.set_attribute("recon.tenant_id", tenant_id_var.get() or "")


def traced_task(func: F) -> F:
    """Wrap a django-q2 task in a span named after it, a child of the span that queued it.

    `recon.tenant_id` is the task's own `tenant_id` argument when it has one (the tenant it works
    for), else the tenant of whoever queued it.
    """
    signature = inspect.signature(func)
    takes_tenant = "tenant_id" in signature.parameters

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(f"task {func.__module__}.{func.__name__}") as span:
            if span.is_recording():
                tenant_id = signature.bind_partial(*args, **kwargs).arguments.get("tenant_id") if takes_tenant else None
                span.set_attribute("recon.task", f"{func.__module__}.{func.__name__}")
                span.set_attribute("recon.request_id", request_id_var.get() or "")
                span.set_attribute("recon.tenant_id", str(tenant_id or tenant_id_var.get() or ""))
            return func(*args, **kwargs)

    return cast(F, wrapper)


def _task_context_connect() -> None:
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(_task_context_inject, dispatch_uid="recon-task-context-inject")
    pre_execute.connect(_task_context_enter, dispatch_uid="recon-task-context-enter")
    post_execute_in_worker.connect(_task_context_exit, dispatch_uid="recon-task-context-exit")


def _task_context_inject(sender: object, task: dict[str, Any], **kwargs: Any) -> None:
    """Into the package being queued: the current trace context, request id and tenant id."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for key, value in ((_REQUEST_ID, request_id_var.get()), (_TENANT_ID, tenant_id_var.get())):
        if value:
            carrier[key] = value
    if carrier:
        task[TASK_CONTEXT_KEY] = carrier


# What _task_context_enter made current, undone by _task_context_exit: a stack, since a task run
# synchronously (django-q2's `sync`) enters inside its caller, which may itself be a task.
_entered: list[tuple[contextvars.Token[Context], contextvars.Token[str | None], contextvars.Token[str | None]]] = []


def _task_context_enter(sender: object, task: dict[str, Any], **kwargs: Any) -> None:
    carrier = task.get(TASK_CONTEXT_KEY) or {}
    _entered.append(
        (
            context.attach(propagate.extract(carrier)),
            request_id_var.set(carrier.get(_REQUEST_ID)),
            tenant_id_var.set(carrier.get(_TENANT_ID)),
        )
    )


def _task_context_exit(sender: object, task: dict[str, Any], **kwargs: Any) -> None:
    if not _entered:
        return
    trace_token, request_token, tenant_token = _entered.pop()
    tenant_id_var.reset(tenant_token)
    request_id_var.reset(request_token)
    context.detach(trace_token)
