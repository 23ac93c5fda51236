"""Cursor pagination: stable under inserts, and O(1) per page however deep the client goes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import DateTimeField, QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from recon_site.api.filters import to_utc

INVALID_CURSOR_MESSAGE = "Invalid cursor: pass on the `next` or `previous` link of a page unchanged."


class TenantCursorPagination(CursorPagination):
    """DRF's cursor pagination, with a cursor the client broke refused as a 400.

    DRF answers an undecodable cursor with a 404, and trusts the position inside a decodable
    one: a position that is not a value of the ordering field reached the database (a 500 for
    an integer out of range, or a timestamp with an offset PostgreSQL refuses). Both are the
    client's mistake in a query parameter, so both are a `validation_error` on `cursor`.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any] | None:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR_MESSAGE]}) from exc
        if cursor is None or cursor.position is None:
            return cursor
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        field = self._model._meta.get_field(ordering.lstrip("-"))
        try:
            position = field.to_python(cursor.position)
            field.run_validators(position)
            if isinstance(field, DateTimeField) and position is not None:
                position = to_utc(position).isoformat()
        except (DjangoValidationError, ValueError, TypeError) as exc:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR_MESSAGE]}) from exc
        return Cursor(offset=cursor.offset, reverse=cursor.reverse, position=position)


class CreatedCursorPagination(TenantCursorPagination):
    ordering = ("-created_at", "-id")
