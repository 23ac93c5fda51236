"""Traces seen, not claimed: spans leave real server processes over OTLP/HTTP and arrive as one trace.

The test runs an OTLP/HTTP receiver of its own (a thread serving `POST /v1/traces`, decoding each
`ExportTraceServiceRequest` with opentelemetry-proto), starts gunicorn and a django-q2 cluster as
the load test does (`benchmarks.load.services`) with `OTEL_EXPORTER_OTLP_ENDPOINT` pointed at it,
POSTs one invoice, and waits for what the processes export: the request's span with its request id
and tenant, its SQL, and the matching task its commit queued — in the worker process, continuing
the request's trace (core.tracing carries the context in the task's package).

The data must be committed for the subprocesses to see it (`transaction=True`).
"""

from __future__ import annotations

import gzip
import random
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from benchmarks.fixtures import FixtureBuilder
from benchmarks.load.clients import invoice_payload
from benchmarks.load.services import load_services, load_services_environment
from core.tenancy.roles import runtime_database_url
from matching.models import MatchResult
from tenants.services import tenant_create
from tests.factories import TEST_ACTOR

WAIT_S = 90.0  # for the exported spans: boot is already over, but the machine may be busy
REQUEST_ID = "trace-seen-0001"
MATCHING_TASK = "task matching.tasks.run_matching"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]

    @property
    def is_sql(self) -> bool:
        return self.attributes.get("db.system") == "postgresql"

    @property
    def statement(self) -> str:
        return str(self.attributes.get("db.statement", ""))


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class OtlpReceiver:
    """An OTLP/HTTP trace receiver: what the exporters POST to `/v1/traces`, decoded and kept."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.exports = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def receive(self, export: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in export.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=resource.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        )
                    )
        with self._lock:
            self.exports += 1
            self.spans.extend(received)

    def wait_for(self, found: Callable[[list[ReceivedSpan]], list[ReceivedSpan]]) -> list[ReceivedSpan]:
        """What `found` picks from the spans received, once it picks something (or [] at the deadline)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            with self._lock:
                spans = list(self.spans)
            picked = found(spans)
            if picked or time.monotonic() > deadline:
                return picked
            time.sleep(0.2)


def _sql_inside(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[str]:
    return [
        span.statement
        for span in spans
        if span.is_sql and span.trace_id == parent.trace_id and span.parent_span_id == parent.span_id
    ]


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_request_its_sql_and_the_matching_task_it_queued_arrive_as_one_trace(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    tenant, api_key = tenant_create(name="Traced tenant", actor=TEST_ACTOR)
    builder = FixtureBuilder(tenant=tenant, rng=random.Random(7), vendor_count=2, lines=2)
    _, unsaved = builder.build_for_ingestion(1, progress=lambda done: None)
    environment = {
        **load_services_environment(
            database_url=runtime_database_url(connection.settings_dict),
            redis_url=settings.REDIS_URL,
            cluster_name=f"recon-traces-{secrets.token_hex(3)}",
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
        "OTEL_SERVICE_NAME": "recon-traced",
        # Export every 100 ms rather than every 5 s: the spans are there soon after they end.
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "Q_WORKERS": "1",
    }
    connection.close()  # not idle in a transaction while the servers work

    with load_services(environment=environment, instances=1, web_workers=1, log_dir=tmp_path) as services:
        response = httpx.post(
            f"{services.base_urls[0]}/api/invoices",
            json=invoice_payload(unsaved[0]),
            headers={
                "Authorization": f"Bearer {api_key}",
                "Idempotency-Key": "traced-invoice-1",
                "X-Request-Id": REQUEST_ID,
            },
            timeout=60,
        )
        assert response.status_code == 201, response.text

        requests = otlp_receiver.wait_for(
            lambda spans: [
                span
                for span in spans
                if span.kind == Span.SpanKind.SPAN_KIND_SERVER and span.attributes.get("recon.request_id") == REQUEST_ID
            ]
        )
        assert len(requests) == 1, f"request spans: {requests}; {otlp_receiver.exports} exports"
        [request] = requests
        tasks = otlp_receiver.wait_for(
            lambda spans: [span for span in spans if span.trace_id == request.trace_id and span.name == MATCHING_TASK]
        )
        assert tasks, "no matching task in the request's trace; received " + ", ".join(
            f"{span.name} ({span.trace_id})" for span in otlp_receiver.spans if not span.is_sql
        )
        [task] = tasks

    # Each span's SQL ended before it did, so it was exported with it or earlier.
    request_sql, task_sql = (_sql_inside(otlp_receiver.spans, span) for span in (request, task))

    # The request: a server span of the service, carrying the request id and the tenant it
    # authenticated as, with its SQL inside it.
    assert request.service == "recon-traced"
    assert request.attributes["recon.tenant_id"] == str(tenant.pk)
    assert request.attributes.get("http.method", request.attributes.get("http.request.method")) == "POST"
    assert any('INSERT INTO "invoices_invoice"' in statement for statement in request_sql), request_sql

    # The matching task, run by the cluster's worker process: a child of the request span (it
    # was queued at the request's commit), carrying the same request id and the tenant it
    # matched for, with SQL of its own inside it.
    assert task.parent_span_id == request.span_id
    assert task.attributes["recon.request_id"] == REQUEST_ID
    assert task.attributes["recon.tenant_id"] == str(tenant.pk)
    assert any('"matching_matchresult"' in statement for statement in task_sql), task_sql
    assert MatchResult.objects.for_tenant(tenant).count() == 1
