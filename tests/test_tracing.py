"""Tracing and structured logs: spans for requests, SQL and tasks, carrying request id and tenant;
every log line carries the trace id."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from core import observability, tracing
from core.observability import RequestContextFilter
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_without_an_endpoint_nothing_is_instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setattr(tracing, "_configured", False)
    assert tracing.tracing_setup() is False
    assert observability.current_trace_id() is None


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    assert tracing.tracing_setup(exporter=exporter)
    return exporter


def test_a_request_span_carries_request_id_and_tenant_with_its_sql_inside(
    spans: InMemorySpanExporter, client_for: object, tenant: Tenant
) -> None:
    from django.db import connection
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    # The test session's connection was opened before tracing was set up (a server sets it up
    # first, in AppConfig.ready), so instrument that connection the way new ones are.
    connection.ensure_connection()
    PsycopgInstrumentor.instrument_connection(connection.connection)
    api = client_for(tenant)  # type: ignore[operator]
    spans.clear()
    try:
        response = api.get("/api/vendors", HTTP_X_REQUEST_ID="trace-me-1")
    finally:
        PsycopgInstrumentor.uninstrument_connection(connection.connection)
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    [server] = [span for span in finished if span.kind == SpanKind.SERVER]
    assert server.attributes["recon.request_id"] == "trace-me-1"
    assert server.attributes["recon.tenant_id"] == str(tenant.pk)
    queries = [span for span in finished if span.attributes.get("db.system") == "postgresql"]
    assert queries, "no SQL spans"
    assert {span.context.trace_id for span in queries} == {server.context.trace_id}


def test_a_task_runs_in_its_own_span_and_its_log_lines_carry_the_trace_id(spans: InMemorySpanExporter) -> None:
    records: list[logging.LogRecord] = []

    @tracing.traced_task
    def reconcile_something() -> str:
        record = logging.LogRecord("recon.test", logging.INFO, __file__, 1, "inside the task", None, None)
        RequestContextFilter().filter(record)
        records.append(record)
        return "done"

    spans.clear()
    assert reconcile_something() == "done"
    [task_span] = [span for span in spans.get_finished_spans() if span.name.startswith("task ")]
    assert task_span.attributes["recon.task"].endswith("reconcile_something")
    assert records[0].trace_id == f"{task_span.context.trace_id:032x}"


def test_a_task_continues_the_trace_request_and_tenant_of_whoever_queued_it(
    spans: InMemorySpanExporter, tenant: Tenant
) -> None:
    """Through django-q2's own path (signals, signed package, worker loop), run in this process."""
    from django_q.tasks import async_task

    spans.clear()
    request_token = observability.request_id_var.set("queued-by-request-7")
    tenant_token = observability.tenant_id_var.set(str(tenant.pk))
    try:
        with tracing.tracer.start_as_current_span("the request") as request_span:
            async_task("matching.tasks.run_matching", str(tenant.pk), sync=True)
        # Once the task is over, the queuing side's context is its own again.
        assert observability.request_id_var.get() == "queued-by-request-7"
    finally:
        observability.tenant_id_var.reset(tenant_token)
        observability.request_id_var.reset(request_token)

    [task_span] = [span for span in spans.get_finished_spans() if span.name == "task matching.tasks.run_matching"]
    assert task_span.context.trace_id == request_span.get_span_context().trace_id
    assert task_span.parent is not None and task_span.parent.span_id == request_span.get_span_context().span_id
    assert task_span.attributes["recon.request_id"] == "queued-by-request-7"
    assert task_span.attributes["recon.tenant_id"] == str(tenant.pk)


def test_a_task_queued_outside_any_request_starts_a_trace_of_its_own(
    spans: InMemorySpanExporter, tenant: Tenant
) -> None:
    from django_q.tasks import async_task

    spans.clear()
    # Outside any request (an earlier test's request left its id on this thread, as a server
    # thread keeps it until its next request).
    request_token, tenant_token = observability.request_id_var.set(None), observability.tenant_id_var.set(None)
    try:
        async_task("matching.tasks.run_matching", str(tenant.pk), sync=True)
    finally:
        observability.tenant_id_var.reset(tenant_token)
        observability.request_id_var.reset(request_token)

    [task_span] = [span for span in spans.get_finished_spans() if span.name == "task matching.tasks.run_matching"]
    assert task_span.parent is None
    assert task_span.attributes["recon.request_id"] == ""
    assert task_span.attributes["recon.tenant_id"] == str(tenant.pk)  # the task's own argument


def test_log_lines_are_json_with_request_id_tenant_and_trace_id(
    capsys: pytest.CaptureFixture[str], settings: object
) -> None:
    from logging.config import dictConfig

    from django.conf import settings as django_settings

    dictConfig({**django_settings.LOGGING, "root": {"handlers": ["console"], "level": "INFO"}})
    try:
        with tracing.tracer.start_as_current_span("unit"):
            logging.getLogger("recon.test").info("matched", extra={"invoices": 3})
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        dictConfig(django_settings.LOGGING)
    assert line["message"] == "matched" and line["level"] == "INFO" and line["invoices"] == 3
    assert {"request_id", "tenant_id", "trace_id", "ts"} <= line.keys()
    assert len(line["trace_id"]) == 32
