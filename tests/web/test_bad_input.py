"""Bad input to the web app's pages: a 400 page, never a 500, and nothing written.

The pages read request values directly (no serializer), so a NUL, which PostgreSQL cannot hold in
text or jsonb, is refused once for every page by `tenants.http.web.tenant_view`; an amount in digits
other than ASCII is refused by `core.money.parse_decimal` like any other non-number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape

from core.money import NOT_A_NUMBER
from tenants.http.web import NUL_IN_INPUT
from tests.tenant_matrix import TenantDocuments, member_client, tenant_rows

NUL = "\x00"
Of = Callable[[TenantDocuments], dict[str, Any]]


@dataclass(frozen=True)
class PageRequest:
    page: str
    kwargs: Of
    method: str
    data: Of


def _invoice(documents: TenantDocuments) -> dict[str, Any]:
    return {"invoice_id": documents.by_basename["invoice"].pk}


def _unmatched_payment(documents: TenantDocuments) -> dict[str, Any]:
    return {"payment_id": documents.by_basename["unmatched-payment"].pk}


def _allocation(documents: TenantDocuments) -> dict[str, Any]:
    allocation = documents.by_basename["payment-allocation"]
    return {"payment_id": allocation.payment_id, "allocation_id": allocation.pk}


def _paid_invoice_number(documents: TenantDocuments) -> str:
    return documents.by_basename["payment-allocation"].invoice.invoice_number


# Each request is one a real form or link could send, with a NUL in one value. The searches, the
# review comment, the split's reference and note and the reversal reason were 500s (psycopg's
# DataError) before tenant_view refused NUL; the others were answered by luck (nothing stored).
NUL_REQUESTS = {
    "vendor-search": PageRequest("web:vendors", lambda d: {}, "get", lambda d: {"q": NUL}),
    "purchase-order-search": PageRequest("web:purchase-orders", lambda d: {}, "get", lambda d: {"q": f"PO{NUL}"}),
    "queue-filter": PageRequest("web:queue", lambda d: {"queue": "standard"}, "get", lambda d: {"vendor": NUL}),
    "review-comment": PageRequest(
        "web:invoice-action", _invoice, "post", lambda d: {"action": "reject", "comment": f"wrong{NUL}price"}
    ),
    "split-invoice-reference": PageRequest(
        "web:payment-split", _unmatched_payment, "post", lambda d: {"invoice": f"PAID{NUL}", "amount": "1.00"}
    ),
    "split-note": PageRequest(
        "web:payment-split",
        _unmatched_payment,
        "post",
        lambda d: {"invoice": _paid_invoice_number(d), "amount": "1.00", "note": f"note{NUL}"},
    ),
    "reverse-reason": PageRequest(
        "web:payment-allocation-reverse", _allocation, "post", lambda d: {"reason": f"duplicate{NUL}"}
    ),
    "ignore-reason": PageRequest("web:payment-ignore", _unmatched_payment, "post", lambda d: {"reason": f"fee{NUL}"}),
    "invoice-list-filter": PageRequest("web:invoices", lambda d: {}, "get", lambda d: {"po": f"PO{NUL}"}),
    "saved-view-name": PageRequest(
        "web:invoice-view-save", lambda d: {}, "post", lambda d: {"name": f"mine{NUL}", "query": "status=void"}
    ),
    "saved-view-rename": PageRequest(
        "web:invoice-view-rename",
        lambda d: {"saved_view_id": d.by_basename["saved-invoice-view"].pk},
        "post",
        lambda d: {"name": f"renamed{NUL}"},
    ),
    "bulk-approve-comment": PageRequest(
        "web:bulk-approve",
        lambda d: {"queue": d.by_basename["invoice"].review_queue},
        "post",
        lambda d: {"invoice_ids": str(d.by_basename["invoice"].pk), "confirm": "yes", "comment": NUL},
    ),
}


@pytest.mark.parametrize("request_", NUL_REQUESTS.values(), ids=NUL_REQUESTS.keys())
def test_a_nul_in_any_page_input_is_a_400_and_writes_nothing(
    request_: PageRequest, tenant_a_documents: TenantDocuments
) -> None:
    approver = member_client(tenant_a_documents.tenant)
    url = reverse(request_.page, kwargs=request_.kwargs(tenant_a_documents))
    data = request_.data(tenant_a_documents)
    rows_before = tenant_rows(tenant_a_documents.tenant)

    response = getattr(approver, request_.method)(url, data)

    assert response.status_code == 400, response.content[:300]
    assert NUL_IN_INPUT in response.content.decode()
    assert tenant_rows(tenant_a_documents.tenant) == rows_before

    # Non-vacuous: the same request without the NUL gets past the check (whatever the page answers).
    clean = {key: value.replace(NUL, "") for key, value in data.items()}
    clean_response = getattr(approver, request_.method)(url, clean)
    assert clean_response.status_code < 500
    assert NUL_IN_INPUT not in clean_response.content.decode()


@pytest.mark.parametrize(
    "amount", ["\u0661.\u0660\u0660", "\uff11.\uff10\uff10", "1\u202e.00", "1.00\U0001f4b0"], ids=repr
)
def test_a_split_amount_in_other_than_ascii_digits_is_refused(amount: str, tenant_a_documents: TenantDocuments) -> None:
    """Decimal() would read "١.٠٠" as 1.00: the split form refuses it as not a number, all rows or none."""
    approver = member_client(tenant_a_documents.tenant)
    url = reverse("web:payment-split", kwargs=_unmatched_payment(tenant_a_documents))
    number = _paid_invoice_number(tenant_a_documents)
    rows_before = tenant_rows(tenant_a_documents.tenant)

    response = approver.post(url, {"invoice": number, "amount": amount})

    assert response.status_code == 400
    assert escape(NOT_A_NUMBER.format(value=amount)) in response.content.decode()
    assert tenant_rows(tenant_a_documents.tenant) == rows_before
    assert approver.post(url, {"invoice": number, "amount": "1.00"}).status_code == 302  # the ASCII amount splits
