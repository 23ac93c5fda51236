"""Cursor pagination: stable under inserts, and O(1) per page however deep the client goes.

The cursor is a short token whose every well-formed value is a valid position, so the OpenAPI
schema can state its shape exactly (`CURSOR_PATTERN`) and a cursor either has that shape or is a
400 on `cursor`:

    n1765432101234567      forward (next page), after position 1765432101234567
    p1765432101234567.2    backward (previous page), before that position, skipping 2 rows
    n                      forward from the start

The position is the first ordering field of the row the page ends on: a timestamp as integer
microseconds since 1970-01-01 UTC, or an integer as it is (the audit log's sequence). At most
17 digits: a date past 5000 or a sequence of 10^17 is no row of Recon's. The offset skips rows
sharing that position (DRF's cursor scheme), capped like DRF's at `offset_cutoff`.
DRF's own cursor (base64 of a query string) could not be described by any pattern: most
base64 strings decode to nothing valid, so a client or a fuzzer following the schema was
refused.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import DateTimeField, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from core.http.filters import to_utc

INVALID_CURSOR_MESSAGE = "Invalid cursor: pass on the `next` or `previous` link of a page unchanged."
CURSOR_PATTERN = r"^[np][0-9]{0,17}(?:\.[0-9]{1,4})?$"
_CURSOR = re.compile(r"\A(?P<direction>[np])(?P<position>[0-9]{0,17})(?:\.(?P<offset>[0-9]{1,4}))?\Z")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

MAX_PAGE_SIZE = 500
PAGE_SIZE_INVALID = f"page_size is a whole number from 1 to {MAX_PAGE_SIZE}."
_PAGE_SIZE = re.compile(r"\A[1-9][0-9]{0,5}\Z")


class TenantCursorPagination(CursorPagination):
    """DRF's cursor pagination with a cursor and a page size whose shapes the schema states.

    A cursor or a `page_size` the server cannot use is the client's mistake in a query
    parameter: a `validation_error` naming it, never a silent default (DRF ignores a
    `page_size` it cannot read), a 404 (DRF's answer to a bad cursor) or a 500.
    """

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    # Query sets only (a list has no model to read the ordering field of), where DRF also takes lists.
    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _PAGE_SIZE.match(raw) or int(raw) > self.max_page_size:
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_INVALID]})
        return int(raw)

    def _ordering_is_time(self) -> bool:
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        return isinstance(self._model._meta.get_field(ordering.lstrip("-")), DateTimeField)

    def _get_position_from_instance(self, instance: Any, ordering: Any) -> str:
        # One spelling of a timestamp position (UTC, ISO 8601), the one decode_cursor returns,
        # so DRF's comparisons of positions across pages compare like with like.
        value = super()._get_position_from_instance(instance, ordering)
        if self._ordering_is_time():
            return to_utc(dt.datetime.fromisoformat(value)).isoformat()
        return value

    def encode_cursor(self, cursor: Cursor) -> str:
        position = ""
        if cursor.position is not None:
            if self._ordering_is_time():
                # DRF's positions are text (its stubs say int), here an ISO 8601 timestamp.
                elapsed = dt.datetime.fromisoformat(cursor.position) - _EPOCH  # type: ignore[arg-type]
                position = str(elapsed // dt.timedelta(microseconds=1))
            else:
                position = str(cursor.position)
        token = ("p" if cursor.reverse else "n") + position + (f".{cursor.offset}" if cursor.offset else "")
        assert self.base_url is not None  # set by paginate_queryset, before any link is made
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request: Request) -> Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        match = _CURSOR.match(token)
        if match is None:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR_MESSAGE]})
        position: str | None = match["position"] or None
        if position is not None and self._ordering_is_time():
            position = (_EPOCH + dt.timedelta(microseconds=int(position))).isoformat()
        elif position is not None:
            position = str(int(position))
        offset = min(int(match["offset"] or 0), self.offset_cutoff)
        # DRF's positions are text (its stubs say int).
        return Cursor(offset=offset, reverse=match["direction"] == "p", position=position)  # type: ignore[arg-type]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Where the page starts: take it from the `next` or `previous` link of the page before, "
                    "unchanged. Absent: the first page."
                ),
                "schema": {"type": "string", "pattern": CURSOR_PATTERN, "example": "n1765432101234567"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["next"]["example"] = "https://recon.example.com/api/invoices?cursor=n1765432101234567"
        paginated["properties"]["previous"]["example"] = (
            "https://recon.example.com/api/invoices?cursor=p1765432101234567"
        )
        return paginated


class CreatedCursorPagination(TenantCursorPagination):
    ordering = ("-created_at", "-id")
