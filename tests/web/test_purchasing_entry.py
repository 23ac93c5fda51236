"""Purchase orders and goods receipts entered by hand (purchasing.entry_views): a clerk creates a PO
with the line editor and records a receipt from it ("received all" or per line), through the one
door of each document (audit event included); each refusal shows beside its field with nothing
written; other roles get the 403 page, another tenant's PO the 404 page, other methods the 405."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from core.quantities import MUST_BE_POSITIVE, MUST_NOT_BE_NEGATIVE
from invoices.models import InvoiceStatus
from invoices.services import invoice_create
from purchasing.entry_forms import DESCRIPTION_REQUIRED, VENDOR_UNKNOWN
from purchasing.models import GoodsReceipt, PurchaseOrder
from purchasing.services import PO_NO_LINES, RECEIPT_NO_LINES
from tenants.http.line_entry import DECIMAL_COMMA, attach_errors, line_formset
from tenants.models import Tenant
from tests.document_factories import InvoiceDocumentFactory
from tests.factories import BOLTS, HOSES, TEST_ACTOR, GoodsReceiptFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import reload, run_matching

pytestmark = pytest.mark.django_db

NEW_PO = reverse("web:purchase-order-new")


def po_form(
    vendor: str = "Acme Industrial Supplies", rows: list[dict[str, str]] | None = None, **header: str
) -> QueryDict:
    """The new-PO page as a clerk sends it: header, the line editor's rows, "Create purchase order"."""
    if rows is None:
        rows = [
            {"description": "M8 hex bolts", "sku": "HB-M8", "quantity": "1000", "unit_price": "0.125"},
            {},  # the empty row the editor always offers
            {"description": "Hydraulic hose 1 m", "quantity": "50", "unit_price": "18.40"},
        ]
    data = QueryDict(mutable=True)
    data.update(
        {
            "vendor": vendor,
            "po_number": "PO-7001",
            "currency": "EUR",
            "order_date": "2026-10-01",
            "expected_date": "2026-10-15",
            "action": "create",
            "lines-TOTAL_FORMS": str(len(rows)),
            "lines-INITIAL_FORMS": "0",
            **header,
        }
    )
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"lines-{index}-{name}"] = value
    return data


@pytest.fixture
def vendor(tenant: Tenant) -> Any:
    return VendorFactory(tenant=tenant, name="Acme Industrial Supplies")


def receive_url(purchase_order: PurchaseOrder) -> str:
    return reverse("web:purchase-order-receive", kwargs={"purchase_order_id": purchase_order.pk})


def receipt_form(quantities: list[str], **header: str) -> dict[str, str]:
    data = {
        "receipt_number": "DN-55012",
        "received_date": "2026-10-20",
        "action": "record",
        "lines-TOTAL_FORMS": str(len(quantities)),
        "lines-INITIAL_FORMS": str(len(quantities)),
        **header,
    }
    data.update({f"lines-{index}-quantity": quantity for index, quantity in enumerate(quantities)})
    return data


# --- a new purchase order ------------------------------------------------------------------------


def test_the_po_list_offers_a_new_purchase_order_to_clerks_only(clerk: Client, approver: Client) -> None:
    assert NEW_PO in clerk.get(reverse("web:purchase-orders")).content.decode()
    assert NEW_PO not in approver.get(reverse("web:purchase-orders")).content.decode()


def test_the_page_offers_the_tenants_active_vendors_and_currencies_first(
    clerk: Client, tenant: Tenant, other_tenant: Tenant, vendor: Any
) -> None:
    VendorFactory(tenant=tenant, name="Dormant Supplies", is_active=False)
    VendorFactory(tenant=other_tenant, name="Foreign Vendor GmbH")
    PurchaseOrderFactory(vendor=vendor, currency="CHF")
    response = clerk.get(NEW_PO)
    body = response.content.decode()
    assert response.status_code == 200
    assert '<option value="Acme Industrial Supplies">' in body
    assert "Dormant Supplies" not in body and "Foreign Vendor" not in body
    # The tenant's own currency first and chosen; the common ones and every ISO code after it.
    assert body.index('<option value="CHF" selected>') < body.index('<option value="EUR">') < body.index("BHD")
    assert 'name="lines-TOTAL_FORMS" value="1"' in body  # one empty row to type into
    assert f'name="order_date" value="{timezone.localdate().isoformat()}"' in body  # ordered today unless changed


def test_a_clerk_creates_a_purchase_order(clerk: Client, tenant: Tenant, vendor: Any) -> None:
    response = clerk.post(NEW_PO, po_form(vendor="acme industrial supplies"))
    purchase_order = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-7001")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:purchase-order-detail", kwargs={"purchase_order_id": purchase_order.pk})
    assert (purchase_order.vendor, purchase_order.currency) == (vendor, "EUR")
    assert (purchase_order.order_date, purchase_order.expected_date) == (dt.date(2026, 10, 1), dt.date(2026, 10, 15))
    lines = list(purchase_order.lines.order_by("line_number"))
    # Numbered in page order, the blank row skipped; exact decimals.
    assert [(line.line_number, line.description, line.sku) for line in lines] == [
        (1, "M8 hex bolts", "HB-M8"),
        (2, "Hydraulic hose 1 m", ""),
    ]
    assert [(line.quantity, line.unit_price) for line in lines] == [
        (Decimal("1000"), Decimal("0.125")),
        (Decimal("50"), Decimal("18.40")),
    ]
    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="purchase_order", entity_id=str(purchase_order.pk))
    assert (event.action, event.actor_kind) == ("created", "user")
    page = clerk.get(response["Location"]).content.decode()
    assert "Purchase order PO-7001 created with 2 line(s)." in page


def test_add_a_line_keeps_what_was_typed_and_writes_nothing(clerk: Client, tenant: Tenant, vendor: Any) -> None:
    data = po_form(po_number="", action="add_line")
    response = clerk.post(NEW_PO, data)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-TOTAL_FORMS" value="4"' in body and 'data-testid="line-4"' in body
    assert 'value="M8 hex bolts"' in body and 'value="Acme Industrial Supplies"' in body
    assert "This field is required" not in body  # the header is checked when the PO is sent
    assert 'data-testid="subtotal">1,045.00' in body  # 125.00 + 920.00, added up on the server
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()


def _error_beside(body: str, field: str, message: str) -> bool:
    return f'data-testid="error-{field}">{message}' in body


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"vendor": "Nobody & Sons"}, "vendor", VENDOR_UNKNOWN.format(name="Nobody &amp; Sons")),
        ({"po_number": ""}, "po_number", "This field is required."),
        ({"po_number": "P" * 65}, "po_number", "Ensure this value has at most 64 characters (it has 65)."),
        ({"currency": "XXX"}, "currency", "Select a valid choice. XXX is not one of the available choices."),
        ({"order_date": "2026-13-01"}, "order_date", "Enter a valid date."),
        # The door's own rule (core.business_dates), put back beside the field.
        ({"order_date": "1850-01-01"}, "order_date", "1850-01-01 is outside the dates Recon accepts"),
        ({"expected_date": "2300-01-01"}, "expected_date", "2300-01-01 is outside the dates Recon accepts"),
    ],
)
def test_header_errors_show_beside_their_field_and_nothing_is_written(
    clerk: Client, tenant: Tenant, vendor: Any, changes: dict[str, str], field: str, message: str
) -> None:
    response = clerk.post(NEW_PO, po_form(**changes))
    assert response.status_code == 400
    assert _error_beside(response.content.decode(), field, message)
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()
    assert not AuditEvent.objects.for_tenant(tenant).filter(entity_type="purchase_order").exists()


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ([{"description": "Gloves", "quantity": "12,5", "unit_price": "1"}], "lines-0-quantity", DECIMAL_COMMA),
        # A blank first row: the error is beside the row that has it, the second.
        ([{}, {"description": "Gloves", "quantity": "0", "unit_price": "1"}], "lines-1-quantity", MUST_BE_POSITIVE),
        ([{"description": "Gloves", "quantity": "1", "unit_price": "-1"}], "lines-0-unit_price", MUST_NOT_BE_NEGATIVE),
        ([{"sku": "GL-1", "quantity": "1", "unit_price": "1"}], "lines-0-description", DESCRIPTION_REQUIRED),
    ],
)
def test_line_errors_show_in_their_row_and_nothing_is_written(
    clerk: Client, tenant: Tenant, vendor: Any, rows: list[dict[str, str]], field: str, message: str
) -> None:
    response = clerk.post(NEW_PO, po_form(rows=rows))
    assert response.status_code == 400
    assert _error_beside(response.content.decode(), field, message)
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()


def test_a_po_without_lines_is_refused_above_the_lines(clerk: Client, tenant: Tenant, vendor: Any) -> None:
    response = clerk.post(NEW_PO, po_form(rows=[{}]))
    assert response.status_code == 400
    assert PO_NO_LINES in response.content.decode()
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()


def test_a_po_number_already_taken_is_an_error_beside_it(clerk: Client, tenant: Tenant, vendor: Any) -> None:
    PurchaseOrderFactory(vendor=vendor, po_number="PO-7001", lines=[BOLTS])
    response = clerk.post(NEW_PO, po_form())
    assert response.status_code == 400
    assert _error_beside(response.content.decode(), "po_number", "Purchase order &#x27;PO-7001&#x27; already exists.")
    assert PurchaseOrder.objects.for_tenant(tenant).count() == 1


def test_another_tenants_vendor_is_unknown(clerk: Client, tenant: Tenant, other_tenant: Tenant) -> None:
    VendorFactory(tenant=other_tenant, name="Foreign Vendor GmbH", tax_id="DE999999999")
    for typed in ("Foreign Vendor GmbH", "DE999999999"):
        response = clerk.post(NEW_PO, po_form(vendor=typed))
        assert response.status_code == 400
        assert _error_beside(response.content.decode(), "vendor", VENDOR_UNKNOWN.format(name=typed))
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()


def test_attach_errors_puts_each_door_key_beside_its_field_or_row() -> None:
    """The mapping on its own: document line 1 is the page's row 2 (row 1 was left blank)."""

    class Header(forms.Form):
        vendor = forms.CharField()
        po_number = forms.CharField()

    form = Header({"vendor": "Acme", "po_number": "PO-1"})
    form.is_valid()
    data = QueryDict(mutable=True)
    data.update({"lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0"})
    data.update({"lines-0-description": "Bolts", "lines-0-quantity": "1", "lines-0-unit_price": "1"})
    data.update({"lines-2-description": "Hoses", "lines-2-quantity": "1", "lines-2-unit_price": "1"})
    formset = line_formset(data)
    formset.is_valid()
    attach_errors(
        {
            "vendor_id": ["No vendor with this id."],
            "po_number": "Taken.",
            "lines": ["Too few lines."],
            "lines[1].quantity": ["Too many decimals."],
            "lines[0].line_number": ["Line number 1 appears more than once."],
            "order_date": ["Out of range."],
        },
        form,
        formset,
        {0: 0, 1: 2},
        field_names={"vendor_id": "vendor"},
    )
    assert form.errors["vendor"] == ["No vendor with this id."]
    assert form.errors["po_number"] == ["Taken."]
    assert form.non_field_errors() == ["Out of range."]  # no such field on this page: on top
    assert formset.forms[2].errors["quantity"] == ["Too many decimals."]
    assert not formset.forms[1].errors
    assert list(formset.non_form_errors()) == ["Too few lines.", "Line 1: Line number 1 appears more than once."]
    assert not formset.is_valid()


# --- a goods receipt from a PO -------------------------------------------------------------------


@pytest.fixture
def ordered(vendor: Any) -> PurchaseOrder:
    """PO-5001: 1000 bolts (400 received so far) and 50 hoses (all received)."""
    purchase_order = PurchaseOrderFactory(vendor=vendor, po_number="PO-5001", lines=[BOLTS, HOSES])
    GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-1", quantities={1: "400", 2: "50"})
    return purchase_order


def test_the_po_page_offers_record_receipt_to_clerks_only(
    clerk: Client, approver: Client, ordered: PurchaseOrder
) -> None:
    page = reverse("web:purchase-order-detail", kwargs={"purchase_order_id": ordered.pk})
    assert receive_url(ordered) in clerk.get(page).content.decode()
    assert receive_url(ordered) not in approver.get(page).content.decode()


def test_the_receive_page_shows_ordered_received_and_outstanding(clerk: Client, ordered: PurchaseOrder) -> None:
    response = clerk.get(receive_url(ordered))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="outstanding-1">600<' in body and 'data-testid="outstanding-2">0<' in body
    assert '<input type="text" name="receipt_number" maxlength="64" required' in body  # no number suggested
    assert f'name="received_date" value="{timezone.localdate().isoformat()}"' in body  # received today unless changed


def test_received_all_fills_each_line_with_its_outstanding_quantity(clerk: Client, ordered: PurchaseOrder) -> None:
    data = receipt_form(["", ""], action="fill_outstanding", receipt_number="DN-1")
    response = clerk.post(receive_url(ordered), data)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-0-quantity" value="600"' in body
    assert '<input type="text" name="lines-1-quantity" inputmode' in body  # nothing outstanding: left blank
    assert 'value="DN-1"' in body  # what was typed stays
    assert GoodsReceipt.objects.for_tenant(ordered.tenant).count() == 1


def test_a_clerk_records_a_receipt_with_the_lines_received_now(
    clerk: Client, tenant: Tenant, ordered: PurchaseOrder
) -> None:
    response = clerk.post(receive_url(ordered), receipt_form(["600", "0"]))
    receipt = GoodsReceipt.objects.for_tenant(tenant).get(receipt_number="DN-55012")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:receipt-detail", kwargs={"receipt_id": receipt.pk})
    assert receipt.received_date == dt.date(2026, 10, 20)
    # Only the line with a quantity above 0 is on the receipt.
    assert [(line.purchase_order_line.line_number, line.quantity) for line in receipt.lines.all()] == [
        (1, Decimal("600"))
    ]
    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="goods_receipt", entity_id=str(receipt.pk))
    assert (event.action, event.actor_kind) == ("created", "user")
    page = clerk.get(response["Location"]).content.decode()
    assert "Goods receipt DN-55012 recorded against PO-5001: 1 line(s)." in page


def test_receiving_more_than_ordered_is_recorded_as_the_door_does_and_said(
    clerk: Client, tenant: Tenant, ordered: PurchaseOrder
) -> None:
    response = clerk.post(receive_url(ordered), receipt_form(["", "5"]), follow=True)
    assert GoodsReceipt.objects.for_tenant(tenant).filter(receipt_number="DN-55012").exists()
    assert "Line 2: 55 received in all against 50 ordered." in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "quantities", "field", "message"),
    [
        ({"receipt_number": ""}, ["10", ""], "receipt_number", "This field is required."),
        ({"receipt_number": "GR-1"}, ["10", ""], "receipt_number", "Goods receipt &#x27;GR-1&#x27; already exists."),
        ({"received_date": "2250-01-01"}, ["10", ""], "received_date", "2250-01-01 is outside the dates Recon accepts"),
        ({}, ["-3", ""], "lines-0-quantity", MUST_BE_POSITIVE),
        ({}, ["", "1.23456"], "lines-1-quantity", "At most 4 decimal places."),
        ({}, ["12,5", ""], "lines-0-quantity", DECIMAL_COMMA),
    ],
)
def test_receipt_errors_show_beside_their_field_and_nothing_is_written(
    clerk: Client,
    tenant: Tenant,
    ordered: PurchaseOrder,
    changes: dict[str, str],
    quantities: list[str],
    field: str,
    message: str,
) -> None:
    response = clerk.post(receive_url(ordered), receipt_form(quantities, **changes))
    assert response.status_code == 400
    assert _error_beside(response.content.decode(), field, message), response.content.decode()
    assert list(GoodsReceipt.objects.for_tenant(tenant).values_list("receipt_number", flat=True)) == ["GR-1"]


def test_a_receipt_with_nothing_received_is_refused(clerk: Client, tenant: Tenant, ordered: PurchaseOrder) -> None:
    response = clerk.post(receive_url(ordered), receipt_form(["0", ""]))
    assert response.status_code == 400
    assert RECEIPT_NO_LINES in response.content.decode()
    assert GoodsReceipt.objects.for_tenant(tenant).count() == 1


def test_the_rows_are_the_pos_whatever_the_form_claims(clerk: Client, tenant: Tenant, ordered: PurchaseOrder) -> None:
    data = receipt_form(["1", "1", "7"])  # a third row the PO does not have
    data["lines-TOTAL_FORMS"] = "3"
    assert clerk.post(receive_url(ordered), data).status_code == 302
    receipt = GoodsReceipt.objects.for_tenant(tenant).get(receipt_number="DN-55012")
    assert receipt.lines.count() == 2


@pytest.mark.parametrize(("status", "message"), [("closed", "is closed"), ("cancelled", "was cancelled")])
def test_a_closed_or_cancelled_po_shows_why_and_no_form(
    clerk: Client, tenant: Tenant, ordered: PurchaseOrder, status: str, message: str
) -> None:
    PurchaseOrder.objects.for_tenant(tenant).filter(pk=ordered.pk).update(status=status)
    body = clerk.get(receive_url(ordered)).content.decode()
    assert message in body and 'data-testid="receive-form"' not in body
    assert clerk.post(receive_url(ordered), receipt_form(["1", ""])).status_code == 409
    assert GoodsReceipt.objects.for_tenant(tenant).count() == 1
    detail = clerk.get(reverse("web:purchase-order-detail", kwargs={"purchase_order_id": ordered.pk}))
    assert receive_url(ordered) not in detail.content.decode()


# --- who, whose, how -----------------------------------------------------------------------------


def test_another_tenants_po_is_the_not_found_page(
    foreign_clerk: Client, tenant: Tenant, ordered: PurchaseOrder
) -> None:
    for response in (
        foreign_clerk.get(receive_url(ordered)),
        foreign_clerk.post(receive_url(ordered), receipt_form(["1", "1"])),
    ):
        assert response.status_code == 404
        assert "PO-5001" not in response.content.decode()
        assert "web/not_found.html" in [template.name for template in response.templates]
    assert GoodsReceipt.objects.for_tenant(tenant).count() == 1


def test_an_approver_gets_the_forbidden_page(approver: Client, tenant: Tenant, ordered: PurchaseOrder) -> None:
    for response in (
        approver.get(NEW_PO),
        approver.post(NEW_PO, po_form(po_number="PO-9")),
        approver.get(receive_url(ordered)),
        approver.post(receive_url(ordered), receipt_form(["1", ""])),
    ):
        assert response.status_code == 403
        assert "web/forbidden.html" in [template.name for template in response.templates]
    assert not PurchaseOrder.objects.for_tenant(tenant).filter(po_number="PO-9").exists()
    assert GoodsReceipt.objects.for_tenant(tenant).count() == 1


def test_other_methods_get_the_method_not_allowed_page(clerk: Client, ordered: PurchaseOrder) -> None:
    for url in (NEW_PO, receive_url(ordered)):
        response = clerk.delete(url)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD, POST"
        assert 'data-testid="method-not-allowed"' in response.content.decode()


@pytest.mark.parametrize(
    "tampered",
    [
        {"lines-TOTAL_FORMS": "abc"},
        {"lines-TOTAL_FORMS": "100000"},
        {"lines-0-quantity": "NaN"},
        {"lines-0-quantity": "1e30"},
        {"lines-0-unit_price": "١٢"},
        {"currency": ""},
        {"order_date": "0000-00-00"},
        {"vendor": ""},
    ],
)
def test_bad_input_on_the_new_po_page_is_a_400_never_a_500(
    clerk: Client, tenant: Tenant, vendor: Any, tampered: dict[str, str]
) -> None:
    for action in ("create", "add_line"):
        data = po_form(action=action)
        data.update(tampered)
        response = clerk.post(NEW_PO, data)
        assert response.status_code == (400 if action == "create" else 200), (action, tampered)
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()


def test_bad_input_on_the_receive_page_is_a_400_never_a_500(
    clerk: Client, tenant: Tenant, ordered: PurchaseOrder
) -> None:
    for data in (
        {"action": "record"},  # nothing at all, not even the management form
        receipt_form(["1e30", ""]),
        receipt_form(["NaN", ""]),
        receipt_form(["1", ""], received_date="0000-00-00"),
        receipt_form(["1", ""], receipt_number="R" * 65),
    ):
        assert clerk.post(receive_url(ordered), data).status_code == 400, data
    assert GoodsReceipt.objects.for_tenant(tenant).count() == 1


def test_an_invoice_on_hold_for_the_goods_goes_back_to_matching(
    clerk: Client, tenant: Tenant, vendor: Any, settings: Any
) -> None:
    settings.MATCH_ON_INGEST = False
    purchase_order = PurchaseOrderFactory(vendor=vendor, po_number="PO-6001", lines=[BOLTS, HOSES])
    document = InvoiceDocumentFactory(
        invoice_number="INV-6001", vendor_id=vendor.pk, po_number="PO-6001", lines=[BOLTS, HOSES]
    )
    invoice = invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)
    run_matching(tenant)
    assert reload(invoice).status == InvoiceStatus.ON_HOLD
    assert clerk.post(receive_url(purchase_order), receipt_form(["1000", "50"])).status_code == 302
    assert reload(invoice).status == InvoiceStatus.RECEIVED  # matched again by the next run
