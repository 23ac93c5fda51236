"""Request-scoped context (request id, tenant, trace id) that every log line carries."""

from __future__ import annotations

import contextvars
import logging

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
tenant_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant_id", default=None)


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `tenant_id` and `trace_id` to every record (`None` where there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from recon_site.tracing import current_trace_id  # imported late: tracing imports this module

        record.request_id = request_id_var.get()
        record.tenant_id = tenant_id_var.get()
        record.trace_id = current_trace_id()
        return True
