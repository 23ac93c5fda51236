"""Matching runs, results and discrepancies in the admin: read-only.

Results and discrepancies are immutable history (the database refuses UPDATE and DELETE, see
matching/migrations/0002); runs are records of what a worker did. Administrators look, search and
filter here; they start runs from the web app or `manage.py run_matching`.
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin import ReadOnlyAdmin
from matching.models import Discrepancy, MatchResult, MatchRun


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "tenant", "status", "trigger", "invoices_matched", "invoices_failed", "duration_ms",
        "query_count", "engine_version",
    ]  # fmt: skip
    list_filter = ["status", "trigger", "tenant"]
    search_fields = ["id__exact", "requested_by_label", "error"]
    date_hierarchy = "created_at"
    actions = None


class DiscrepancyInline(admin.TabularInline):
    model = Discrepancy
    fields = ["type", "severity", "message", "invoice_line_number", "po_line_number", "expected", "actual"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: object) -> object:
        return Discrepancy.objects.unscoped()


@admin.register(MatchResult)
class MatchResultAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "invoice", "decision", "review_queue", "confidence", "engine_version"]
    list_filter = ["decision", "review_queue", "engine_version", "tenant"]
    search_fields = ["invoice__invoice_number", "decision_reason", "id__exact"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "invoice"]
    inlines = [DiscrepancyInline]
    actions = None


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "invoice", "type", "severity", "invoice_line_number", "po_line_number"]
    list_filter = ["severity", "type", "tenant"]
    search_fields = ["invoice__invoice_number", "message"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "invoice"]
    actions = None
