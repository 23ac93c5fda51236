"""Tenant isolation of every web-app page (DESIGN.md §3), generated from the URL conf: the BOLA matrix.

Every pattern of `recon_site/web_urls.py` is discovered from the resolver and called by a user who
is a member of tenant B only, over tenant A's objects from tests/tenant_matrix.py (the very objects
the API's matrix in tests/api/test_tenant_isolation.py uses):

- a page with an object id in its URL, for tenant A's object: GET and POST are a 404 (a POST may be
  the 405 page where the page takes no form, exactly as for tenant A itself), as for an id that
  does not exist, with none of A's data, and every row of tenant A's unchanged (status,
  allocations, audit events). A GET is never a 405: tenant A opening a form's address is
  redirected to the page the form is on (#18 item 7, tenants.http.error_pages.post_only), which
  answers, while tenant B gets the 404 first, so the redirect tells B nothing;
- the same page for tenant B's own object, with a form naming tenant A's objects: A's rows unchanged;
- a page without an object id (lists, dashboard, queues, bulk approval, tenant switch, ...):
  none of A's identifiers in it, and a POST naming A's objects changes none of A's rows.

The pages' views are plain functions, so which methods a page takes is not in the URL conf: both
are tried, and tenant A's own answer tells a 405 for the method (a POST) from a 404 for the object. A new
URL parameter this module does not know fails loudly: add it to `OBJECT_KWARGS` (a tenant-owned
object) or `VALUE_KWARGS` (a value that is the same for every tenant).
"""

from __future__ import annotations

import io
import itertools
import uuid
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from invoices.models import ReviewQueue
from review.invoice_export import XLSX_CONTENT_TYPE
from tenants.models import Role, Tenant
from tests.tenant_matrix import (
    OWN_LABEL,
    SECRET,
    Endpoint,
    TenantDocuments,
    assert_no_secret,
    member_client,
    tenant_rows,
    url_patterns,
)

# URL parameter → the basename (tests/tenant_matrix.py) of the tenant-owned object it addresses.
OBJECT_KWARGS = {
    "invoice_id": "invoice",
    "vendor_id": "vendor",
    "purchase_order_id": "purchase-order",
    "receipt_id": "goods-receipt",
    "payment_id": "payment",
    # Reversed through its own payment's URL: tenant A's allocation belongs to tenant A's payment.
    "allocation_id": "payment-allocation",
    # A clerk's saved view of the invoice list: its own user's only, a 404 to anyone else.
    "saved_view_id": "saved-invoice-view",
    # The settings pages' users and API keys (recon_site.tenant_settings).
    "membership_id": "membership",
    "api_key_id": "api-key",
    # A background export of the invoice list (its page and its file): its own user's only.
    "export_id": "export-job",
    # An upload of the Import page (its files, their checks and imports).
    "batch_id": "import-batch",
    # A dispute's page and its forms (review.dispute_views).
    "dispute_id": "dispute",
    # A file of a dispute's thread (served by review.dispute_views.dispute_attachment).
    "attachment_id": "dispute-attachment",
    # A payment run's page, its bank file and its forms (payments.runs.views).
    "run_id": "payment-run",
    # What Recon learned (review.learning_views): a tolerance suggestion, an item and a vendor alias.
    "suggestion_id": "tolerance-suggestion",
    "item_alias_id": "item-alias",
    "vendor_alias_id": "vendor-alias",
    # A contact of a vendor, changed or removed from the vendor's page (vendors.contact_views).
    "contact_id": "vendor-contact",
    # A line of the invoice, assigned by hand to a PO line from the invoice page.
    "invoice_line_id": "invoice-line",
    # A rule of the approval policy, edited on its settings page (recon_site.tenant_settings).
    "rule_id": "approval-rule",
}

# URL parameters that name no tenant's object, with every value they take.
VALUE_KWARGS: dict[str, list[str]] = {
    "queue": list(ReviewQueue.values),  # a review queue's name: the same two queues in every tenant
}

WEB_PAGES = [endpoint for endpoint in url_patterns() if endpoint.url_name.startswith("web:")]
OBJECT_PAGES = [endpoint for endpoint in WEB_PAGES if set(endpoint.kwargs) & set(OBJECT_KWARGS)]
OTHER_PAGES = [endpoint for endpoint in WEB_PAGES if not set(endpoint.kwargs) & set(OBJECT_KWARGS)]

# Pages that list tenant documents: tenant A must see its own there, or the absence of A's
# identifiers from tenant B's copy would prove nothing.
LIST_PAGES = {
    "web:vendors",
    "web:purchase-orders",
    "web:receipts",
    "web:runs",
    "web:payments",
    "web:queue",
    "web:invoices",
    "web:invoices-export-csv",
    "web:invoices-export-xlsx",
    "web:imports",
}

# Pages that list the signed-in member's own work ("My work": what is assigned to them, the
# disputes they own): tenant B's copy is read as B's counterpart of A's owner (the member who owns
# B's dispute), or a newcomer's empty list would be compared with A's owner's full one.
PER_MEMBER_PAGES = {"web:my-work"}

# Pages that search what is typed in `q` (review.search_views): each text below finds tenant A's
# documents for A, and none of them for tenant B; those both tenants' documents answer (`True`)
# find B's own for B.
SEARCH_PAGES = {"web:search", "web:search-suggest"}
SEARCHES = (
    (f"INV-{SECRET}", False),  # an invoice number, whole
    (f"po-{SECRET.lower()}", False),  # a PO number, in lower case
    (SECRET.lower(), False),  # the start of a vendor's name, and the end of numbers
    ("Supplies", True),  # a later word of both tenants' vendors' names
    ("43.98", True),  # both tenants' invoice totals
    ("inv", True),  # the start of both tenants' invoice numbers
)

METHODS = ("get", "post")


def _unknown_kwargs(endpoint: Endpoint) -> list[str]:
    return [name for name in endpoint.kwargs if name not in OBJECT_KWARGS and name not in VALUE_KWARGS]


def _value_kwargs(endpoint: Endpoint) -> list[dict[str, str]]:
    """Every combination of the page's tenant-neutral parameters (none for a page with an unknown one)."""
    if _unknown_kwargs(endpoint):
        return []  # test_every_web_page_has_an_isolation_rule fails for it
    names = [name for name in endpoint.kwargs if name not in OBJECT_KWARGS]
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*(VALUE_KWARGS[name] for name in names))
    ]


def _cases(pages: list[Endpoint], methods: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(endpoint, values, method, id="-".join([endpoint.url_name, *values.values(), method]))
        for endpoint in pages
        for values in _value_kwargs(endpoint)
        for method in methods
    ]


def _kwargs(endpoint: Endpoint, documents: TenantDocuments, values: dict[str, str]) -> dict[str, Any]:
    return {
        **values,
        **{name: documents.by_basename[OBJECT_KWARGS[name]].pk for name in endpoint.kwargs if name in OBJECT_KWARGS},
    }


def _missing_kwargs(endpoint: Endpoint, values: dict[str, str]) -> dict[str, Any]:
    return {**values, **{name: uuid.uuid4() for name in endpoint.kwargs if name in OBJECT_KWARGS}}


def _form_naming(documents: TenantDocuments) -> dict[str, Any]:
    """Every field a web form posts, each naming the tenant's objects: approve, allocate, switch to it."""
    invoice = documents.by_basename["invoice"]
    paid = documents.by_basename["payment-allocation"].invoice
    return {
        "action": "approve",
        "comment": "cross-tenant",
        "reason": "cross-tenant",
        "note": "cross-tenant",
        "expected_status": invoice.status,
        "invoice_ids": [str(invoice.pk), str(paid.pk)],
        "invoice": [str(invoice.pk), paid.invoice_number],
        "amount": ["1.00", "1.00"],
        "tenant_id": str(documents.tenant.pk),
        "confirm": "yes",
    }


def _typed(form: dict[str, Any]) -> tuple[str, ...]:
    """The values a form sent, which a page may show back to the person who typed them."""
    flat = [value for values in form.values() for value in (values if isinstance(values, list) else [values])]
    return tuple(sorted(flat, key=len, reverse=True))


def _send(client: Client, method: str, url: str, form: dict[str, Any]) -> Any:
    return client.post(url, form) if method == "post" else client.get(url)


def _body(response: Any) -> bytes:
    """What a page or a download says, as text: a streamed body read whole (once: it is kept on
    the response), a workbook's cells."""
    if not response.streaming:
        return response.content
    if not hasattr(response, "read_body"):
        response.read_body = b"".join(response.streaming_content)
    body = response.read_body
    if response.get("Content-Type", "").startswith(XLSX_CONTENT_TYPE):
        sheets = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets
        cells = (value for sheet in sheets for row in sheet.iter_rows(values_only=True) for value in row)
        body = "\n".join(str(value) for value in cells if value is not None).encode()
    return body


@pytest.fixture
def owner(tenant_a_documents: TenantDocuments) -> Client:
    """Tenant A's administrator who saved tenant A's view of the invoice list: proves each page and
    object is really reachable (non-vacuous)."""
    client = Client()
    client.force_login(tenant_a_documents.by_basename["saved-invoice-view"].user)
    return client


@pytest.fixture
def intruder(other_tenant: Tenant) -> Client:
    """A user who is an administrator of tenant B only: the most a tenant-B user may do (the
    settings pages too)."""
    return member_client(other_tenant, role=Role.ADMIN)


def test_discovery_finds_the_web_pages() -> None:
    """The URL walk finds the pages (guards against an empty parametrization)."""
    names = {endpoint.url_name for endpoint in WEB_PAGES}
    assert {endpoint.url_name for endpoint in OBJECT_PAGES} >= {
        "web:invoice-detail",
        "web:invoice-action",
        "web:vendor-detail",
        "web:payment-split",
        "web:payment-allocation-reverse",
    }
    assert names >= LIST_PAGES | SEARCH_PAGES | {"web:dashboard", "web:bulk-approve", "web:tenant-switch"}


@pytest.mark.parametrize("endpoint", WEB_PAGES, ids=lambda endpoint: endpoint.url_name)
def test_every_web_page_has_an_isolation_rule(endpoint: Endpoint) -> None:
    """Each URL parameter is a known object id or a known tenant-neutral value."""
    unknown = _unknown_kwargs(endpoint)
    if unknown:
        pytest.fail(
            f"{endpoint} takes {unknown}: add each to OBJECT_KWARGS (a tenant-owned object) or VALUE_KWARGS "
            "(with the values it takes) in tests/web/test_tenant_matrix.py."
        )
    assert _value_kwargs(endpoint)


@pytest.mark.parametrize(("endpoint", "values", "method"), _cases(OBJECT_PAGES, METHODS))
def test_another_tenants_object_is_a_404_and_stays_unchanged(
    endpoint: Endpoint,
    values: dict[str, str],
    method: str,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    owner: Client,
    intruder: Client,
) -> None:
    """Tenant B's GET or POST on tenant A's object: as if it did not exist, and nothing of A's moves."""
    url = reverse(endpoint.url_name, kwargs=_kwargs(endpoint, tenant_a_documents, values))
    form = _form_naming(tenant_a_documents)
    rows_before = tenant_rows(tenant_a_documents.tenant)

    response = _send(intruder, method, url, form)
    assert response.status_code in {404, 405}, (url, response.status_code)
    assert_no_secret(_body(response), tenant_a_documents)
    missing_url = reverse(endpoint.url_name, kwargs=_missing_kwargs(endpoint, values))
    missing = _send(intruder, method, missing_url, form)
    assert missing.status_code == response.status_code, "another tenant's id must answer as a missing one"
    assert tenant_rows(tenant_a_documents.tenant) == rows_before

    own = _send(owner, method, url, form)
    # The 405 is the page's, not the object's: tenant A gets it too; a 404 is for B alone.
    assert (own.status_code == 405) == (response.status_code == 405), (own.status_code, response.status_code)
    assert own.status_code != 404, "tenant A must reach its own object (non-vacuous)"
    if method == "get":
        # Opened by GET, every address answers: the page, or the page a form lives on.
        assert response.status_code == 404, (url, response.status_code)
        assert own.status_code in {200, 302}, (url, own.status_code)
        if own.status_code == 302:
            # (a draft's edit page, the way back from Discard, sends a filed invoice to its page)
            assert owner.get(own["Location"], follow=True).status_code == 200, (url, own["Location"])
        else:
            assert SECRET in _body(own).decode()


@pytest.mark.parametrize(("endpoint", "values", "method"), _cases(OBJECT_PAGES, ("post",)))
def test_a_form_on_an_own_object_naming_another_tenants_objects_changes_none_of_them(
    endpoint: Endpoint,
    values: dict[str, str],
    method: str,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    intruder: Client,
) -> None:
    """Tenant B posting on its own object (e.g. splitting its payment) with A's invoices in the form."""
    url = reverse(endpoint.url_name, kwargs=_kwargs(endpoint, tenant_b_documents, values))
    form = _form_naming(tenant_a_documents)
    rows_before = tenant_rows(tenant_a_documents.tenant)

    response = _send(intruder, method, url, form)
    assert response.status_code < 500, response.content[:500]
    # The split form shows back what was typed ("no invoice INV-…"): only that may appear.
    assert_no_secret(_body(response), tenant_a_documents, sent=_typed(form))
    assert tenant_rows(tenant_a_documents.tenant) == rows_before


@pytest.mark.parametrize(("endpoint", "values", "method"), _cases(OTHER_PAGES, METHODS))
def test_a_page_without_an_object_shows_and_changes_nothing_of_another_tenant(
    endpoint: Endpoint,
    values: dict[str, str],
    method: str,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    owner: Client,
    intruder: Client,
) -> None:
    """Lists, dashboard, queues and collection actions as tenant B: none of A's identifiers, none of A's rows."""
    url = reverse(endpoint.url_name, kwargs=values)
    rows_before = tenant_rows(tenant_a_documents.tenant)
    if endpoint.url_name in PER_MEMBER_PAGES:
        intruder = Client()
        intruder.force_login(tenant_b_documents.by_basename["saved-invoice-view"].user)

    if method == "get":
        response = intruder.get(url)
        assert response.status_code < 500
        assert_no_secret(_body(response), tenant_a_documents)
        # Filtered by tenant A's vendor, or searched for a word in both tenants' names.
        query = {"vendor": str(tenant_a_documents.by_basename["vendor"].pk), "q": "Supplies"}
        filtered = intruder.get(url, query)
        assert filtered.status_code < 500
        assert_no_secret(_body(filtered), tenant_a_documents, sent=_typed(query))  # the filter form shows its value
        own = owner.get(url)
        shows_own = own.status_code == 200 and SECRET in _body(own).decode()
        if shows_own:  # both tenants hold the same kinds of documents, so B's copy shows B's instead
            assert response.status_code == 200 and OWN_LABEL in _body(response).decode()
        a_queue = tenant_a_documents.by_basename["invoice"].review_queue
        if endpoint.url_name in LIST_PAGES and values.get("queue", a_queue) == a_queue:
            assert shows_own, f"{url} does not show tenant A its own documents: the check above proves nothing"
    else:
        form = _form_naming(tenant_a_documents)
        for step in (form, {**form, "confirm": ""}):  # bulk approval's confirmation, and its preview
            response = intruder.post(url, step)
            assert response.status_code < 500
            assert_no_secret(_body(response), tenant_a_documents)
        # Still tenant B afterwards: posting A's tenant id to the switch must not have switched.
        invoice_url = reverse("web:invoice-detail", kwargs={"invoice_id": tenant_a_documents.by_basename["invoice"].pk})
        assert intruder.get(invoice_url).status_code in {302, 404}

    assert tenant_rows(tenant_a_documents.tenant) == rows_before


@pytest.mark.parametrize("url_name", sorted(SEARCH_PAGES))
def test_a_search_finds_its_own_tenants_documents_only(
    url_name: str,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    owner: Client,
    intruder: Client,
) -> None:
    """Tenant A's numbers, names and amounts typed by tenant B find nothing of A's; A finds them."""
    url = reverse(url_name)
    a_ids = [str(document.pk) for document in tenant_a_documents.by_basename.values()]
    b_ids = [str(document.pk) for document in tenant_b_documents.by_basename.values()]
    for typed, both_have_it in SEARCHES:
        own = _body(owner.get(url, {"q": typed})).decode()
        assert any(pk in own for pk in a_ids), f"{typed!r} finds none of A's documents for A: proves nothing"
        response = intruder.get(url, {"q": typed})
        assert response.status_code == 200
        assert_no_secret(_body(response), tenant_a_documents, sent=(typed,))
        assert any(pk in _body(response).decode() for pk in b_ids) is both_have_it, typed
