"""URL conf: the API under /api/, the admin, health, and the OpenAPI schema and docs."""

from __future__ import annotations

from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from core.http.errors import database_unavailable_response
from invoices.ingest.webhook_api import WebhookHandlerView
from matching.apis import DiscrepancyViewSet, MatchRunViewSet
from payments.apis import CashViewSet, PaymentViewSet
from payments.reconciliation.apis import PaymentAllocationViewSet
from payments.runs.apis import PaymentRunViewSet
from purchasing.apis import GoodsReceiptViewSet, PurchaseOrderViewSet
from recon_site.audit_api import AuditEventViewSet
from review.apis import InvoiceViewSet
from review.approval_apis import ApprovalDelegationViewSet, ApprovalRuleViewSet
from review.batch_apis import InvoiceBatchViewSet
from review.dispute_apis import DisputeViewSet, InvoiceAssignViewSet
from review.learning_apis import ItemAliasViewSet, ToleranceSuggestionViewSet, VendorAliasViewSet
from tenants.apis import TenantRegisterView, WebhookSecretRotateView, WebhookSecretSetView
from vendors.apis import VendorViewSet

router = SimpleRouter(trailing_slash=False)
router.register("vendors", VendorViewSet, basename="vendor")
router.register("purchase-orders", PurchaseOrderViewSet, basename="purchase-order")
router.register("goods-receipts", GoodsReceiptViewSet, basename="goods-receipt")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("matching/runs", MatchRunViewSet, basename="match-run")
router.register("discrepancies", DiscrepancyViewSet, basename="discrepancy")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("payments", PaymentViewSet, basename="payment")
router.register("payment-allocations", PaymentAllocationViewSet, basename="payment-allocation")
router.register("cash", CashViewSet, basename="cash")
router.register("approval-delegations", ApprovalDelegationViewSet, basename="approval-delegation")
router.register("approval-rules", ApprovalRuleViewSet, basename="approval-rule")
router.register("payment-runs", PaymentRunViewSet, basename="payment-run")
router.register("disputes", DisputeViewSet, basename="dispute")
router.register("learned/item-aliases", ItemAliasViewSet, basename="item-alias")
router.register("learned/vendor-aliases", VendorAliasViewSet, basename="vendor-alias")
router.register("learned/tolerance-suggestions", ToleranceSuggestionViewSet, basename="tolerance-suggestion")


def health(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability, for load balancers and the quickstart smoke check:
    200, or 503 in the error envelope while the database cannot be reached."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return database_unavailable_response(request)
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/tenants/register", TenantRegisterView.as_view(), name="tenant-register"),
    path("api/webhook-handler/<uuid:tenant_id>", WebhookHandlerView.as_view(), name="webhook-handler"),
    path("api/webhook-secret", WebhookSecretSetView.as_view(), name="webhook-secret-set"),
    path("api/webhook-secret/rotate", WebhookSecretRotateView.as_view(), name="webhook-secret-rotate"),
    path(
        "api/invoices/<uuid:pk>/assign",
        InvoiceAssignViewSet.as_view({"post": "assign"}),
        name="invoice-assign",
    ),
    # Before the router: its `invoices/{pk}` would take "batch" for an id.
    path("api/invoices/batch", InvoiceBatchViewSet.as_view({"post": "batch"}), name="invoice-batch"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    # The clerk's web app (server-rendered pages): `/` and `/app/...`, `/login`, `/logout`.
    path("", include("recon_site.web_urls")),
]

handler400 = "core.http.errors.handler400"
# The web app's pages for 403 and 404 (tenants.http.error_pages), the envelope under /api/.
handler403 = "tenants.http.error_pages.permission_denied"
handler404 = "tenants.http.error_pages.page_not_found"
handler500 = "core.http.errors.handler500"
