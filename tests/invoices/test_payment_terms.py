"""Payment terms (issue #19 item 3) and the payee account, from the vendor and from the document.

A vendor's 2/10 net 30 is set through the API (validated, audited, 404 across tenants) and fills
what an invoice leaves out: due date = invoice date + 30, discount deadline = invoice date + 10,
discount = 2 % of the amount due, half up in minor units. A document's own terms win: UBL
PaymentTerms, CII SpecifiedTradePaymentTerms (the published files carry notes and accounts; the
structured discount is added to a published file's text here, as the syntaxes define it). The
payee account is kept encrypted and hashed, and only its mask is shown or audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.actors import system_actor
from core.bank_accounts import account_hash, decrypt_account
from core.exceptions import DocumentInvalid
from invoices.models import Invoice
from invoices.terms import AgreedTerms, StatedTerms, discount_of, invoice_terms
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.models import Vendor
from vendors.services import vendor_payment_terms_update
from vendors.terms import (
    DAYS_NEED_DISCOUNT,
    DISCOUNT_DAYS_OVER_NET,
    DISCOUNT_NEEDS_DAYS,
    DISCOUNT_PCT_RANGE,
    payment_terms_label,
)

TESTDATA = Path(__file__).resolve().parent / "testdata"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def _terms_url(vendor: Vendor) -> str:
    return f"/api/vendors/{vendor.pk}/payment-terms"


def _invoice_body(vendor: Vendor, **extra: Any) -> dict[str, Any]:
    return {
        "invoice_number": "T-1",
        "vendor_id": str(vendor.pk),
        "currency": "EUR",
        "invoice_date": "2026-12-07",
        "total_amount": "620.00",
        "lines": [{"description": "Paper", "quantity": "10", "unit_price": "62.00"}],
        **extra,
    }


# --- the vendor's terms -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_vendors_terms_set_through_the_api_read_2_10_net_30_and_are_audited(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant)
    response = api.put(
        _terms_url(vendor), {"payment_net_days": 30, "discount_pct": "2", "discount_days": 10}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["payment_terms"] == "2% 10 days, net 30"
    assert (body["payment_net_days"], body["discount_pct"], body["discount_days"]) == (30, "2.00", 10)
    event = AuditEvent.objects.for_tenant(tenant).get(entity_id=vendor.pk, action="payment_terms_changed")
    assert event.after == {"payment_net_days": 30, "discount_pct": "2.00", "discount_days": 10}
    assert event.before == {"payment_net_days": None, "discount_pct": None, "discount_days": None}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("terms", "field", "message"),
    [
        ({"payment_net_days": 30, "discount_pct": "2", "discount_days": None}, "discount_days", DISCOUNT_NEEDS_DAYS),
        ({"payment_net_days": None, "discount_pct": None, "discount_days": 10}, "discount_pct", DAYS_NEED_DISCOUNT),
        (
            {"payment_net_days": 10, "discount_pct": "2", "discount_days": 14},
            "discount_days",
            DISCOUNT_DAYS_OVER_NET.format(net=10),
        ),
    ],
)
def test_bad_terms_are_a_400_naming_the_field_and_nothing_changes(
    tenant: Tenant, api: APIClient, terms: dict[str, Any], field: str, message: str
) -> None:
    vendor = VendorFactory(tenant=tenant)
    response = api.put(_terms_url(vendor), terms, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][field] == [message]
    vendor.refresh_from_db()
    assert (vendor.payment_net_days, vendor.discount_pct, vendor.discount_days) == (None, None, None)
    assert not AuditEvent.objects.for_tenant(tenant).filter(action="payment_terms_changed").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("pct", ["0", "100", "-1"])
def test_a_percent_outside_0_to_100_is_refused_by_the_api_and_by_the_service(
    tenant: Tenant, api: APIClient, pct: str
) -> None:
    vendor = VendorFactory(tenant=tenant)
    response = api.put(
        _terms_url(vendor), {"payment_net_days": 30, "discount_pct": pct, "discount_days": 10}, format="json"
    )
    assert response.status_code == 400 and "discount_pct" in response.json()["error"]["details"]
    with pytest.raises(DocumentInvalid) as refused:
        vendor_payment_terms_update(
            tenant=tenant,
            vendor=vendor,
            actor=system_actor("test"),
            payment_net_days=30,
            discount_pct=Decimal(pct),
            discount_days=10,
        )
    assert refused.value.details == {"discount_pct": [DISCOUNT_PCT_RANGE]}


@pytest.mark.django_db
def test_another_tenants_vendor_is_a_404(other_tenant: Tenant, api: APIClient) -> None:
    foreign = VendorFactory(tenant=other_tenant)
    body = {"payment_net_days": 30, "discount_pct": None, "discount_days": None}
    response = api.put(_terms_url(foreign), body, format="json")
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.payment_net_days is None


def test_terms_in_words() -> None:
    assert payment_terms_label(net_days=30, discount_pct=Decimal("2.00"), discount_days=10) == "2% 10 days, net 30"
    assert payment_terms_label(net_days=14, discount_pct=Decimal("1.50"), discount_days=7) == "1.5% 7 days, net 14"
    assert payment_terms_label(net_days=30, discount_pct=None, discount_days=None) == "net 30"
    assert payment_terms_label(net_days=None, discount_pct=None, discount_days=None) == ""


# --- the invoice's terms --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_invoice_without_terms_takes_its_vendors(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant, payment_net_days=30, discount_pct=Decimal(2), discount_days=10)
    response = api.post("/api/invoices", _invoice_body(vendor), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["due_date"] == "2027-01-06"
    assert body["discount_due_date"] == "2026-12-17"
    assert (body["discount_pct"], body["discount_amount"]) == ("2.00", "12.40")


@pytest.mark.django_db
def test_the_documents_own_terms_win_over_the_vendors(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant, payment_net_days=30, discount_pct=Decimal(2), discount_days=10)
    body = _invoice_body(
        vendor, due_date="2026-12-21", discount_pct="3", discount_days=7, payment_terms_note="3/7 net 14"
    )
    created = api.post("/api/invoices", body, format="json").json()
    assert created["due_date"] == "2026-12-21"
    assert (created["discount_due_date"], created["discount_amount"]) == ("2026-12-14", "18.60")
    assert created["payment_terms_note"] == "3/7 net 14"


@pytest.mark.django_db
def test_a_vendor_without_terms_leaves_the_invoice_without_a_discount(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant)
    created = api.post("/api/invoices", _invoice_body(vendor), format="json").json()
    assert (created["due_date"], created["discount_due_date"], created["discount_amount"]) == (None, None, "0.00")


@pytest.mark.django_db
def test_a_bad_discount_on_the_document_is_a_400_and_nothing_is_written(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant)
    response = api.post("/api/invoices", _invoice_body(vendor, discount_pct="120", discount_days=10), format="json")
    assert response.status_code == 400
    assert "discount_pct" in response.json()["error"]["details"]
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_the_discount_rounds_half_up_in_minor_units() -> None:
    assert discount_of(pct=Decimal(2), amount_due=62_000, currency="EUR") == 1240
    assert discount_of(pct=Decimal("2.5"), amount_due=101, currency="EUR") == 3  # 2.525 → 3
    assert discount_of(pct=Decimal("2.5"), amount_due=99, currency="EUR") == 2  # 2.475 → 2
    assert discount_of(pct=Decimal(3), amount_due=150, currency="JPY") == 5  # 4.5 yen → 5


@given(
    pct=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2),
    amount_due=st.integers(min_value=0, max_value=10**15),
    days=st.integers(min_value=0, max_value=60),
)
def test_the_discount_is_never_more_than_the_amount_due_and_is_exact(pct: Decimal, amount_due: int, days: int) -> None:
    terms = invoice_terms(
        stated=StatedTerms(),
        agreed=AgreedTerms(net_days=60, discount_pct=pct, discount_days=days),
        invoice_date=dt.date(2026, 12, 7),
        amount_due=amount_due,
        currency="EUR",
    )
    assert 0 <= terms.discount_amount <= amount_due
    # pct × amount (in cents) / 100, half up, with integers only.
    exact_hundredths = int(pct * 100) * amount_due
    assert terms.discount_amount == min((exact_hundredths + 5_000) // 10_000, amount_due)
    assert terms.discount_due_date == (
        dt.date(2026, 12, 7) + dt.timedelta(days=days) if terms.discount_amount else None
    )


# --- e-invoices: terms and the payee account --------------------------------------------------------


def _upload(api: APIClient, content: bytes) -> Any:
    handle = io.BytesIO(content)
    handle.name = "invoice.xml"
    return api.post("/api/invoices/import/xml", {"file": handle}, format="multipart")


@pytest.mark.django_db
def test_a_peppol_invoice_keeps_its_terms_note_and_its_payee_account_masked(tenant: Tenant, api: APIClient) -> None:
    response = _upload(api, (TESTDATA / "ubl" / "base-example.xml").read_bytes())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["payment_terms_note"] == "Payment within 10 days, 2% discount"
    assert body["due_date"] == "2017-12-01"
    assert body["payee_account_mask"] == "****3940"
    assert "payee_account" not in body and "IBAN32423940" not in json.dumps(body)
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert decrypt_account(invoice.payee_account_encrypted) == "IBAN32423940"
    assert invoice.payee_account_hash == account_hash("IBAN32423940")
    # The note is not read as a discount: only the structured elements are.
    assert (invoice.discount_pct, invoice.discount_amount) == (None, 0)
    events = AuditEvent.objects.for_tenant(tenant).filter(entity_id=invoice.pk)
    assert "IBAN32423940" not in json.dumps([event.after for event in events])


@pytest.mark.django_db
def test_a_ubl_settlement_discount_with_its_period_is_read(tenant: Tenant, api: APIClient) -> None:
    original = (TESTDATA / "ubl" / "base-example.xml").read_bytes()
    stated = original.replace(
        b"<cbc:Note>Payment within 10 days, 2% discount</cbc:Note>",
        b"<cbc:Note>Payment within 10 days, 2% discount</cbc:Note>"
        b"<cbc:SettlementDiscountPercent>2</cbc:SettlementDiscountPercent>"
        b"<cac:SettlementPeriod><cbc:EndDate>2017-11-23</cbc:EndDate></cac:SettlementPeriod>",
    )
    assert stated != original
    body = _upload(api, stated).json()
    # PayableAmount 1656.25: 2 % = 33.125, half up 33.13.
    assert (body["discount_pct"], body["discount_due_date"], body["discount_amount"]) == (
        "2.00",
        "2017-11-23",
        "33.13",
    )


@pytest.mark.django_db
def test_a_cii_discount_term_with_its_days_and_the_payee_iban_are_read(tenant: Tenant, api: APIClient) -> None:
    original = (TESTDATA / "cii" / "01.21a-INVOICE_uncefact.xml").read_bytes()
    stated = original.replace(
        b"<ram:Description>10 Tage 3% Skonto, 30 Tage netto</ram:Description>",
        b"<ram:Description>10 Tage 3% Skonto, 30 Tage netto</ram:Description>"
        b"<ram:ApplicableTradePaymentDiscountTerms>"
        b'<ram:BasisPeriodMeasure unitCode="DAY">10</ram:BasisPeriodMeasure>'
        b"<ram:CalculationPercent>3</ram:CalculationPercent>"
        b"</ram:ApplicableTradePaymentDiscountTerms>",
    )
    assert stated != original
    response = _upload(api, stated)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["payment_terms_note"] == "10 Tage 3% Skonto, 30 Tage netto"
    assert body["due_date"] == "2020-12-27"
    # 3 % of 233.00 = 6.99, by 10 days after the issue date.
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert (body["discount_pct"], body["discount_amount"]) == ("3.00", "6.99")
    assert invoice.discount_due_date == invoice.invoice_date + dt.timedelta(days=10)
    assert body["payee_account_mask"] == "****7890"


@pytest.mark.django_db
def test_the_published_cii_file_without_discount_terms_takes_its_vendors(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(
        tenant=tenant, name="Mustermann GmbH", tax_id="", payment_net_days=30, discount_pct=Decimal(3), discount_days=10
    )
    body = _upload(api, (TESTDATA / "cii" / "01.21a-INVOICE_uncefact.xml").read_bytes()).json()
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert invoice.vendor_id == vendor.pk
    assert invoice.discount_due_date == invoice.invoice_date + dt.timedelta(days=10)
    assert body["due_date"] == "2020-12-27"  # the document's own
    assert body["discount_amount"] == "6.99"


@pytest.mark.django_db
def test_the_list_and_its_export_show_the_discount_still_available(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant, payment_net_days=30, discount_pct=Decimal(2), discount_days=10)
    today = timezone.localdate()
    body = _invoice_body(vendor, invoice_date=today.isoformat())
    assert api.post("/api/invoices", body, format="json").status_code == 201
    ended = _invoice_body(vendor, invoice_number="T-OLD", invoice_date=(today - dt.timedelta(days=11)).isoformat())
    assert api.post("/api/invoices", ended, format="json").status_code == 201
    clerk = MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-terms"), role=Role.CLERK).user
    browser = Client()
    browser.force_login(clerk)
    page = browser.get("/app/invoices").content.decode()
    deadline = (today + dt.timedelta(days=10)).isoformat()
    assert f"−12.40 by {deadline}" in page
    assert page.count('data-testid="discount-due"') == 1  # the ended one shows none
    export = b"".join(browser.get("/app/invoices/export.csv").streaming_content).decode("utf-8-sig")
    rows = {row["Invoice number"]: row for row in csv.DictReader(io.StringIO(export))}
    assert (rows["T-1"]["Early-payment discount"], rows["T-1"]["Discount if paid by"]) == ("12.40", deadline)
