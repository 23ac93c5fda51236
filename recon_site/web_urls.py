"""URLs of the clerk's web app: `/` is the dashboard, the rest under `/app/`."""

from __future__ import annotations

from django.urls import include, path

from invoices import views as invoice_views
from matching import views as matching_views
from payments import views as payment_views
from purchasing import views as purchasing_views
from recon_site import dashboard
from review import (
    approval_views,
    assignment_views,
    dispute_views,
    entry_views,
    hold_views,
    invoice_list_views,
    learning_views,
    manual_choice_views,
    originals,
    rematch_views,
    search_views,
)
from review import views as review_views
from review.intake import views as intake_views
from tenants import views as tenant_views
from tenants.http import line_entry
from vendors import contact_views
from vendors import views as vendor_views

app_name = "web"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login", tenant_views.LoginView.as_view(), name="login"),
    path("logout", tenant_views.LogoutView.as_view(), name="logout"),
    path("app/tenant", tenant_views.tenant_switch, name="tenant-switch"),
    path("app/search", search_views.search_page, name="search"),
    path("app/entry/line-totals", line_entry.line_totals, name="line-totals"),
    path("app/search/suggest", search_views.search_suggest, name="search-suggest"),
    path("app/invoices", invoice_list_views.invoice_index, name="invoices"),
    path("app/invoices/export.csv", invoice_list_views.invoice_export_csv, name="invoices-export-csv"),
    path("app/invoices/export.xlsx", invoice_list_views.invoice_export_xlsx, name="invoices-export-xlsx"),
    path("app/invoices/exports", invoice_list_views.invoice_export_start, name="invoice-export-start"),
    path("app/invoices/exports/<uuid:export_id>", invoice_list_views.invoice_export_job, name="invoice-export"),
    path(
        "app/invoices/exports/<uuid:export_id>/file",
        invoice_list_views.invoice_export_download,
        name="invoice-export-file",
    ),
    path("app/invoices/new", entry_views.invoice_new, name="invoice-new"),
    path("app/invoices/views", invoice_list_views.saved_view_save, name="invoice-view-save"),
    path("app/invoices/views/<uuid:saved_view_id>", invoice_list_views.saved_view_open, name="invoice-view"),
    path(
        "app/invoices/views/<uuid:saved_view_id>/rename",
        invoice_list_views.saved_view_rename_view,
        name="invoice-view-rename",
    ),
    path(
        "app/invoices/views/<uuid:saved_view_id>/delete",
        invoice_list_views.saved_view_delete_view,
        name="invoice-view-delete",
    ),
    path("app/imports", intake_views.import_index, name="imports"),
    path("app/imports/<uuid:batch_id>", intake_views.import_batch_detail, name="import-batch"),
    path("app/imports/<uuid:batch_id>/import", intake_views.import_batch_run, name="import-run"),
    path("app/queues/<str:queue>", review_views.review_queue, name="queue"),
    path("app/queues/<str:queue>/bulk-approve", review_views.bulk_approve, name="bulk-approve"),
    path("app/invoices/<uuid:invoice_id>", review_views.invoice_detail, name="invoice-detail"),
    path("app/invoices/<uuid:invoice_id>/timeline", review_views.invoice_timeline, name="invoice-timeline"),
    path("app/invoices/<uuid:invoice_id>/original", originals.invoice_original, name="invoice-original"),
    path("app/invoices/<uuid:invoice_id>/edit", entry_views.invoice_edit, name="invoice-edit"),
    path("app/invoices/<uuid:invoice_id>/discard", entry_views.invoice_discard, name="invoice-discard"),
    path("app/invoices/<uuid:invoice_id>/dispute", dispute_views.dispute_new, name="invoice-dispute"),
    path("app/invoices/<uuid:invoice_id>/hold", hold_views.hold_action, name="invoice-hold"),
    path("app/holds", hold_views.hold_index, name="holds"),
    path("app/my-work", assignment_views.my_work, name="my-work"),
    path("app/delegations", approval_views.delegations, name="delegations"),
    path("app/delegations/revoke", approval_views.delegation_revoke_view, name="delegation-revoke"),
    path("app/my-work/digest", assignment_views.my_digest, name="my-digest"),
    path("app/disputes", dispute_views.dispute_index, name="disputes"),
    path("app/learned", learning_views.learned, name="learned"),
    path(
        "app/learned/suggestions/<uuid:suggestion_id>/accept",
        learning_views.suggestion_accept_view,
        name="learned-suggestion-accept",
    ),
    path(
        "app/learned/suggestions/<uuid:suggestion_id>/decline",
        learning_views.suggestion_decline_view,
        name="learned-suggestion-decline",
    ),
    path(
        "app/learned/suggestions/<uuid:suggestion_id>/undo",
        learning_views.suggestion_undo_view,
        name="learned-suggestion-undo",
    ),
    path(
        "app/learned/item-aliases/<uuid:item_alias_id>/forget",
        learning_views.item_alias_forget_view,
        name="learned-item-alias-forget",
    ),
    path(
        "app/learned/vendor-aliases/<uuid:vendor_alias_id>/forget",
        learning_views.vendor_alias_forget_view,
        name="learned-vendor-alias-forget",
    ),
    path("app/disputes/<uuid:dispute_id>", dispute_views.dispute_detail, name="dispute-detail"),
    path("app/disputes/<uuid:dispute_id>/comment", dispute_views.dispute_comment, name="dispute-comment"),
    path(
        "app/disputes/<uuid:dispute_id>/files/<uuid:attachment_id>",
        dispute_views.dispute_attachment,
        name="dispute-attachment",
    ),
    path("app/disputes/<uuid:dispute_id>/assign", dispute_views.dispute_assign_view, name="dispute-assign"),
    path("app/disputes/<uuid:dispute_id>/resolve", dispute_views.dispute_resolve_view, name="dispute-resolve"),
    path("app/notifications", dispute_views.notification_index, name="notifications"),
    path("app/notifications/read", dispute_views.notification_read_all, name="notifications-read"),
    path("app/invoices/<uuid:invoice_id>/review", review_views.invoice_action, name="invoice-action"),
    path("app/invoices/<uuid:invoice_id>/rematch", rematch_views.invoice_rematch, name="invoice-rematch"),
    path(
        "app/invoices/<uuid:invoice_id>/lines/<uuid:invoice_line_id>/assign",
        manual_choice_views.invoice_line_assign_view,
        name="invoice-line-assign",
    ),
    path(
        "app/invoices/<uuid:invoice_id>/vendor", manual_choice_views.invoice_vendor_choose_view, name="invoice-vendor"
    ),
    path(
        "app/invoices/<uuid:invoice_id>/purchase-order",
        manual_choice_views.invoice_purchase_order_choose_view,
        name="invoice-purchase-order",
    ),
    path("app/invoices/<uuid:invoice_id>/assign", assignment_views.invoice_assign_view, name="invoice-assign"),
    path("app/vendors", vendor_views.vendor_index, name="vendors"),
    path("app/vendors/<uuid:vendor_id>", invoice_views.vendor_detail, name="vendor-detail"),
    path(
        "app/vendors/<uuid:vendor_id>/bank-accounts",
        vendor_views.vendor_bank_accounts_page,
        name="vendor-bank-accounts",
    ),
    path(
        "app/vendors/<uuid:vendor_id>/bank-accounts/propose",
        vendor_views.vendor_bank_account_propose_view,
        name="vendor-bank-account-propose",
    ),
    path(
        "app/vendors/<uuid:vendor_id>/payment-terms",
        vendor_views.vendor_payment_terms_view,
        name="vendor-payment-terms",
    ),
    path("app/vendors/<uuid:vendor_id>/category", vendor_views.vendor_category_view, name="vendor-category"),
    path("app/vendors/<uuid:vendor_id>/contacts/add", contact_views.vendor_contact_add_view, name="vendor-contact-add"),
    path(
        "app/vendors/<uuid:vendor_id>/contacts/<uuid:contact_id>/edit",
        contact_views.vendor_contact_edit_view,
        name="vendor-contact-edit",
    ),
    path(
        "app/vendors/<uuid:vendor_id>/contacts/<uuid:contact_id>/remove",
        contact_views.vendor_contact_remove_view,
        name="vendor-contact-remove",
    ),
    path(
        "app/vendors/<uuid:vendor_id>/bank-accounts/decide",
        vendor_views.vendor_bank_account_decide_view,
        name="vendor-bank-account-decide",
    ),
    path("app/purchase-orders", purchasing_views.purchase_order_index, name="purchase-orders"),
    path("app/", include("purchasing.entry_urls")),
    path(
        "app/purchase-orders/<uuid:purchase_order_id>",
        invoice_views.purchase_order_detail,
        name="purchase-order-detail",
    ),
    path("app/receipts", purchasing_views.goods_receipt_index, name="receipts"),
    path("app/receipts/<uuid:receipt_id>", purchasing_views.goods_receipt_detail, name="receipt-detail"),
    path("app/matching/runs", matching_views.match_run_index, name="runs"),
    path("app/matching/runs/start", matching_views.match_run_start, name="run-start"),
    path("app/payments", payment_views.payment_queue, name="payments"),
    path("app/payments/suggestions", payment_views.suggestion_queue, name="payment-suggestions"),
    path("app/payments/reconcile", payment_views.payment_reconcile_view, name="payment-reconcile"),
    path("app/", include("payments.runs.urls")),
    path("app/payments/<uuid:payment_id>", payment_views.payment_detail, name="payment-detail"),
    path("app/payments/<uuid:payment_id>/accept", payment_views.payment_accept, name="payment-accept"),
    path("app/payments/<uuid:payment_id>/ignore", payment_views.payment_ignore_view, name="payment-ignore"),
    path("app/payments/<uuid:payment_id>/unignore", payment_views.payment_unignore_view, name="payment-unignore"),
    path("app/payments/<uuid:payment_id>/split", payment_views.payment_split, name="payment-split"),
    path(
        "app/payments/<uuid:payment_id>/allocations/<uuid:allocation_id>/reverse",
        payment_views.allocation_reverse_view,
        name="payment-allocation-reverse",
    ),
    # The tenant administrator's settings (recon_site.tenant_settings), in this namespace.
    path("app/settings/", include("recon_site.tenant_settings.urls")),
]
