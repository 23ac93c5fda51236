"""Request-scoped context (request id, tenant, trace id) that every log line carries."""

from __future__ import annotations

import contextvars
import logging

from opentelemetry import trace

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
tenant_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant_id", default=None)


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `tenant_id` and `trace_id` to every record (`None` where there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.tenant_id = tenant_id_var.get()
        record.trace_id = current_trace_id()
        return True


def current_trace_id() -> str | None:
    """The active trace id as 32 hex digits, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
