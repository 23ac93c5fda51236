"""The BOLA matrix's shared parts: URL discovery, one object of each kind per tenant, and the checks.

`tests/api/test_tenant_isolation.py` (every /api/ pattern, as tenant B with an API key and with a
session) and `tests/web/test_tenant_matrix.py` (every web-app pattern, as a tenant-B user) both
walk the URL conf with `url_patterns()` and address the objects `tenant_documents_build()` makes,
so a new endpoint or page is covered without editing either module, and a new kind of object is
added in one place.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import openpyxl
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from audit.services import audit_record
from core.actors import system_actor
from invoices.models import InvoiceLine
from matching.models import Discrepancy, MatchRun
from matching.services import matching_run_for_tenant
from payments.reconciliation.services import allocation_split
from payments.runs.services import payment_run_approve, payment_run_propose
from review.approval_policies import RuleSpec, StepSpec, approval_rule_create
from review.disputes import dispute_comment_add, dispute_open
from review.intake.services import IncomingFile
from review.models import ApprovalDelegation, DisputeAttachment, ExportJob, ExportStatus
from review.saved_views import saved_view_create
from source_files.services import XML, DocumentRef, source_file_keep
from tenants.models import Role, Tenant
from tenants.services import api_key_create
from tests.factories import (
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    ImportJobFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    MembershipFactory,
    PaymentFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    VendorFactory,
)

# Marker text put into tenant A's documents; none of it may ever reach tenant B.
SECRET = "ALPHA-ONLY"
OWN_LABEL = "BETA-OWN"


@dataclass(frozen=True)
class Endpoint:
    """One URL pattern and what the resolver knows about it."""

    route: str  # e.g. "api/^invoices/(?P<pk>[^/.]+)$", for test ids and messages
    url_name: str  # namespaced name for reverse()
    basename: str  # the router's basename ("invoice"), or the URL name for a plain view
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]  # lower-case HTTP methods a class-based view maps ("get" for a function view)
    is_list: bool = field(default=False)

    def __str__(self) -> str:
        return f"{self.url_name} [{self.route}]"


def _view_methods(callback: Any) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(actions))
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return ("get",)
    return tuple(
        sorted(m for m in view_class.http_method_names if m not in {"options", "head"} and hasattr(view_class, m))
    )


def _walk(
    patterns: list[Any], route: str = "", namespace: str = "", kwargs: tuple[str, ...] = ()
) -> Iterator[Endpoint]:
    for pattern in patterns:
        names = tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner_namespace = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern.url_patterns, route + str(pattern.pattern), inner_namespace, kwargs + names)
        elif isinstance(pattern, URLPattern) and pattern.name:
            callback = pattern.callback
            initkwargs = getattr(callback, "initkwargs", {}) or {}
            actions = getattr(callback, "actions", {}) or {}
            yield Endpoint(
                route=route + str(pattern.pattern),
                url_name=f"{namespace}:{pattern.name}" if namespace else pattern.name,
                basename=initkwargs.get("basename", pattern.name),
                kwargs=kwargs + names,
                methods=_view_methods(callback),
                is_list=actions.get("get") == "list",
            )


def url_patterns() -> list[Endpoint]:
    """Every named URL pattern of the project, from the resolver (API, web app, admin, health)."""
    return list(_walk(get_resolver().url_patterns))


@dataclass
class TenantDocuments:
    """One object of each kind for a tenant, keyed by the API router's basename (plus a few extras)."""

    tenant: Tenant
    by_basename: dict[str, Any]
    secrets: list[str]  # text that identifies this tenant's data (ids, numbers, names)


def tenant_documents_build(tenant: Tenant, label: str) -> TenantDocuments:
    """A vendor, PO, receipt, matched invoice, audit event, run, discrepancy, payment, allocation, a
    saved view of the invoice list, an upload of the Import page, a dispute and a file of its thread."""
    vendor = VendorFactory(
        tenant=tenant, name=f"{label} Supplies Ltd", tax_id=f"{label}TAX1", external_id=f"{label}-EXT"
    )
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number=f"PO-{label}")
    po_lines = [
        PurchaseOrderLineFactory(
            purchase_order=purchase_order,
            line_number=number,
            sku=f"{label}-SKU-{number}",
            description=f"{label} widget {number}",
            quantity=Decimal("7"),
            unit_price=Decimal("3.141593"),
        )
        for number in (1, 2)
    ]
    receipt = GoodsReceiptFactory(purchase_order=purchase_order, receipt_number=f"GR-{label}")
    for po_line in po_lines:
        GoodsReceiptLineFactory(goods_receipt=receipt, purchase_order_line=po_line, quantity=Decimal("7"))
    invoice = InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number=f"INV-{label}",
        po_number=purchase_order.po_number,
        vendor_name_raw=f"{label} Supplies Ltd",
        invoice_date=dt.date(2026, 10, 10),
        subtotal_amount=4398,
        total_amount=4398,
    )
    for number in (1, 2):
        InvoiceLineFactory(invoice=invoice, line_number=number, description=f"{label} widget {number}", amount=2199)
    audit_event = audit_record(
        tenant=tenant,
        actor=system_actor(f"{label}-import"),
        entity_type="invoice",
        entity_id=invoice.pk,
        action="created",
        after={"invoice_number": invoice.invoice_number},
    )
    # The file the invoice came from, kept as the e-invoice door keeps one (its page serves it).
    source_file_keep(
        tenant=tenant,
        binary=io.BytesIO(f"<Invoice><ID>INV-{label}</ID><Note>{label} original</Note></Invoice>".encode()),
        filename=f"INV-{label}.xml",
        content_type=XML,
        actor=system_actor(f"{label}-import"),
        documents=[DocumentRef(invoice._meta.label_lower, invoice.pk)],
    )
    # A real run gives the tenant a match run and discrepancies (7 ordered, 10 billed per line).
    match_run = matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor(label))
    assert match_run.status == MatchRun.Status.FINISHED and match_run.invoices_matched == 1
    objects = {
        "vendor": vendor,
        "purchase-order": purchase_order,
        "goods-receipt": receipt,
        "invoice": invoice,
        "audit-event": audit_event,
        "match-run": match_run,
        "discrepancy": Discrepancy.objects.for_tenant(tenant).get(
            invoice=invoice, type="quantity_exceeds_po", po_line_number=1
        ),
        "payment": PaymentFactory(
            tenant=tenant, counterparty_name=f"{label} Supplies Ltd", remittance_text=f"INV-{label}"
        ),
    }
    paid_invoice = InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number=f"PAID-{label}", status="approved")
    [objects["payment-allocation"]] = allocation_split(
        tenant=tenant, payment=objects["payment"], parts=[(paid_invoice, 100)], actor=system_actor(label)
    )
    # Left unmatched, so the web app's payment queue (unmatched debits only) lists one of the tenant's.
    objects["unmatched-payment"] = PaymentFactory(
        tenant=tenant, counterparty_name=f"{label} Unmatched Ltd", remittance_text=f"OPEN-{label}"
    )
    # A saved view of the invoice list, naming the tenant's PO in its filters; its user is the
    # member the web matrix signs in as tenant A (a view is its own user's only), an administrator
    # so that the settings pages are reachable too.
    viewer = MembershipFactory(tenant=tenant, role=Role.ADMIN).user
    objects["saved-invoice-view"] = saved_view_create(
        tenant=tenant,
        user=viewer,
        actor=system_actor(label),
        name=f"{label} view",
        query=f"po=PO-{label}&sort=-amount",
    )
    # A background export of the invoice list, written: its page and its file (review.export_jobs).
    objects["export-job"] = ExportJob.objects.create(
        tenant=tenant,
        user=viewer,
        query=f"po=PO-{label}",
        status=ExportStatus.DONE,
        filename=f"{label}-invoices.xlsx",
        content=_workbook(f"{label} export"),
    )
    # A file brought in on the Import page, checked and ready: its upload is what the pages address.
    objects["import-batch"] = ImportJobFactory(tenant=tenant, filename=f"{label}-invoices.csv").batch
    # A dispute, of an invoice of its own in review (the matched invoice above stays as it is).
    disputed = InvoiceFactory(
        tenant=tenant, vendor=vendor, invoice_number=f"DISP-{label}", status="pending_review", review_queue="standard"
    )
    objects["dispute"] = dispute_open(
        tenant=tenant,
        invoice=disputed,
        actor=system_actor(label),
        role=Role.ADMIN,
        author=viewer,
        reason="price",
        comment=f"{label} price is wrong",
    )
    # A file in the dispute's thread (its own address serves it).
    dispute_comment_add(
        tenant=tenant,
        dispute=objects["dispute"],
        actor=system_actor(label),
        author=viewer,
        body=f"{label} corrected quote attached",
        files=[IncomingFile(name=f"{label}-quote.txt", binary=io.BytesIO(f"{label} corrected quote".encode()))],
    )
    objects["dispute-attachment"] = DisputeAttachment.objects.for_tenant(tenant).get(dispute=objects["dispute"])
    # A clerk's membership and an API key: the settings pages' objects (users, keys).
    objects["membership"] = MembershipFactory(tenant=tenant, role=Role.CLERK)
    # A delegation of approvals between two of its members (review.approval_policies).
    objects["approval-delegation"] = ApprovalDelegation.objects.create(
        tenant=tenant,
        delegator=viewer,
        delegate=objects["membership"].user,
        starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2026, 1, 31),
    )
    # A rule of its approval policy, naming a vendor category (review.approval_policies).
    objects["approval-rule"] = approval_rule_create(
        tenant=tenant,
        actor=system_actor(label),
        spec=RuleSpec(name=f"{label} logistics", vendor_category="Logistics", steps=[StepSpec(role=Role.APPROVER)]),
    )
    objects["api-key"], _ = api_key_create(tenant=tenant, name=f"{label} key", actor=system_actor(label))
    # An approved payment run paying an invoice of a vendor with an approved bank account: its page,
    # its file and its forms (payments.runs).
    from tests.payments.run_books import DEBTOR_IBAN, actor_of, approved_invoice, paying_vendor

    run_clerk = MembershipFactory(tenant=tenant, role=Role.CLERK).user
    run_approver = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    payee = paying_vendor(tenant, f"{label} Payee Ltd", 7, clerk=run_clerk, approver=run_approver)
    approved_invoice(payee, f"RUN-{label}", 77_00)
    objects["payment-run"] = payment_run_approve(
        tenant=tenant,
        run=payment_run_propose(
            tenant=tenant,
            actor=actor_of(run_clerk),
            currency="EUR",
            due_by=dt.date(2026, 11, 30),
            debtor_name=f"{label} Treasury",
            debtor_iban=DEBTOR_IBAN,
        ),
        actor=actor_of(run_approver),
    )
    # What Recon learned from a decision (learning): an open tolerance suggestion, an item alias
    # and a vendor alias, each addressed by the page of learned facts.
    from learning.models import DecisionExample, ItemAlias, ToleranceSuggestion
    from vendors.models import VendorAlias

    example = DecisionExample.objects.create(
        tenant=tenant, kind="approve", vendor=vendor, invoice=invoice, actor_kind="user", actor_id="1",
        actor_label=f"{label}-approver", details={"invoice_number": invoice.invoice_number},
    )  # fmt: skip
    objects["tolerance-suggestion"] = ToleranceSuggestion.objects.create(
        tenant=tenant, vendor=vendor, low_pct=Decimal("2.5"), high_pct=Decimal("3"), proposed_pct=Decimal("3"),
        approvals=5, window_days=60, evidence=[{"invoice_number": invoice.invoice_number, "pct": "2.5"}],
    )  # fmt: skip
    objects["item-alias"] = ItemAlias.objects.create(
        tenant=tenant, vendor=vendor, invoice_text=f"{label} gadget", invoice_key=f"text:{label} gadget",
        po_item_text=f"{label} widget 1", po_item_key=f"sku:{label}-SKU-1", example=example,
        learned_by_label=f"{label}-approver",
    )  # fmt: skip
    objects["vendor-alias"] = VendorAlias.objects.create(
        tenant=tenant, vendor=vendor, alias=f"{label} Trading", normalized_alias=f"{label.lower()} trading"
    )
    # A contact of the vendor (vendors.contacts): the API's and the vendor page's contact forms.
    from vendors.models import VendorContact

    objects["vendor-contact"] = VendorContact.objects.create(
        tenant=tenant, vendor=vendor, name=f"{label} Receivables", email=f"{label.lower()}@vendor.example",
        role=f"{label} accounts receivable",
    )  # fmt: skip
    # An invoice line, addressed under its own invoice (the comparison's line assignment by hand).
    objects["invoice-line"] = InvoiceLine.objects.for_tenant(tenant).filter(invoice=objects["invoice"]).first()
    objects["invoice"].refresh_from_db()
    secrets = [
        label,
        tenant.name,
        str(tenant.pk),
        *(str(obj.pk) for obj in objects.values()),
        *(str(line.pk) for line in po_lines),
    ]
    return TenantDocuments(tenant=tenant, by_basename=objects, secrets=secrets)


def assert_no_secret(body: bytes, documents: TenantDocuments, *, sent: tuple[str, ...] = ()) -> None:
    """None of the tenant's identifying text is in the body (`sent`: what the caller typed, echoed back)."""
    text = body.decode()
    for value in sent:
        text = text.replace(value, "")
    leaked = [secret for secret in documents.secrets if secret in text]
    assert not leaked, f"tenant B's response contains tenant A's data {leaked}: {text[:500]}"


def _workbook(text: str) -> bytes:
    """A spreadsheet of one cell, as an export's file is read back by the matrix."""
    workbook = openpyxl.Workbook()
    workbook.active.append([text])
    target = io.BytesIO()
    workbook.save(target)
    return target.getvalue()


def tenant_rows(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    """Every row of every tenant-owned table of the tenant, whole: equal before and after = nothing written."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models():
        if not any(f.name == "tenant" for f in model._meta.concrete_fields):
            continue
        queryset = model._base_manager.filter(tenant=tenant).order_by("pk")
        rows[model._meta.label] = list(queryset.values())
    return rows


def member_client(tenant: Tenant, role: str = Role.APPROVER) -> APIClient:
    """A logged-in user who is a member of this tenant only (a session, as the browser has).

    An `APIClient` is a Django test `Client` too, so the same session drives the web pages and
    the API's `TenantSessionAuthentication`. Approver by default: the most a member may do.
    """
    client = APIClient()
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client
