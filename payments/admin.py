"""Bank statement lines, imports and allocations in the admin: read-only.

Payments arrive only by statement import (so a re-import can recognise them) and allocations
change only through the reconciliation services, which check balances under row locks and write
the audit trail; an edit here would bypass both. Account numbers show masked, never decrypted in
a list.
"""

from __future__ import annotations

from django.contrib import admin

from audit.admin import ReadOnlyAdmin
from payments.models import Payment, PaymentAllocation, StatementImport


@admin.register(StatementImport)
class StatementImportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "format", "filename", "entries_count", "created_count", "duplicates_count"]
    list_filter = ["format", "tenant"]
    search_fields = ["filename", "file_sha256"]
    date_hierarchy = "created_at"
    actions = None


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["booking_date", "tenant", "direction", "amount", "currency", "counterparty_name", "status"]
    list_filter = ["status", "direction", "currency", "tenant"]
    search_fields = ["counterparty_name", "remittance_text", "bank_transaction_id", "end_to_end_id"]
    date_hierarchy = "booking_date"
    exclude = ["bank_account_encrypted", "counterparty_account_encrypted"]
    actions = None


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "payment", "invoice", "kind", "amount", "currency", "tier", "confidence"]
    list_filter = ["kind", "tier", "tenant"]
    search_fields = ["invoice__invoice_number", "explanation"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "payment", "invoice"]
    actions = None
