"""Screens speak the clerk's language: each code family has one mapping to labels, every code the
application can produce has its label, and no page shows a raw code (`price_mismatch`,
`Admin.updated`, `recon-match/1.1`), a score as `1.0000` or a unit price as `4.2`."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client
from django.urls import reverse

from audit.labels import AUDIT_ACTION_LABELS
from core.actors import ACTOR_KIND_LABELS
from core.labels import code_humanized, code_label
from invoices.models import DocumentType, InvoiceSource, InvoiceStatus, ReviewQueue
from matching.engine.decision import COMPONENT_LABELS, WEIGHTS
from matching.engine.vocabulary import DISCREPANCY_TYPES
from matching.models import Discrepancy, MatchRun
from payments.models import AllocationKind, PaymentDirection, PaymentStatus, StatementFormat
from purchasing.models import PurchaseOrder
from recon_site.labels import CODE_FAMILIES, family_label
from review.decisions import REVIEW_ACTION_LABELS, REVIEW_ACTIONS
from review.models import ImportKind, ImportStatus
from tenants.http.login_throttle import LOCKOUT_ACTION
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory
from tests.web.every_code import EveryCode, every_code_books

# --- one mapping per family, a label for every code -----------------------------------------

# Every code each family can hold, from the code that produces it.
PRODUCED = {
    "discrepancy_type": set(DISCREPANCY_TYPES),
    "severity": set(Discrepancy.Severity.values),
    "confidence_component": set(WEIGHTS),
    "invoice_status": set(InvoiceStatus.values),
    "review_queue": set(ReviewQueue.values),
    "invoice_source": set(InvoiceSource.values),
    "document_type": set(DocumentType.values),
    "review_action": set(REVIEW_ACTIONS),
    "match_run_status": set(MatchRun.Status.values),
    "match_run_trigger": set(MatchRun.Trigger.values),
    "purchase_order_status": set(PurchaseOrder.Status.values),
    "payment_status": set(PaymentStatus.values),
    "payment_direction": set(PaymentDirection.values),
    "allocation_kind": set(AllocationKind.values),
    "statement_format": set(StatementFormat.values),
    "actor_kind": {"user", "api_key", "system"},
    "role": set(Role.values),
    "import_kind": set(ImportKind.values),
    "import_status": set(ImportStatus.values),
}
APPS = ("core", "audit", "tenants", "vendors", "purchasing", "invoices", "matching", "payments", "review", "benchmarks")
RECORDERS = {"audit_record", "AuditEntry", "_webhook_secret_store"}


def _recorded_audit_actions() -> set[str]:
    """The action of every audit event the code records: `action="…"` given to a recorder,
    AuditEntry's third argument, and the admin's `admin.<what>` (tenants.admin_audit)."""
    found = {LOCKOUT_ACTION}
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                # `action="granted" if … else "role_changed"` names two actions.
                constants = [
                    leaf.value
                    for keyword in node.keywords
                    if keyword.arg == "action"
                    for leaf in (
                        [keyword.value.body, keyword.value.orelse]
                        if isinstance(keyword.value, ast.IfExp)
                        else [keyword.value]
                    )
                    if isinstance(leaf, ast.Constant)
                ]
                if name in RECORDERS:
                    found |= set(constants)
                if name == "AuditEntry" and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                    found.add(node.args[2].value)
                if name == "audit_admin_change" and isinstance(node.args[2], ast.Constant):
                    found.add(f"admin.{node.args[2].value}")
    return found


def _is_a_label(text: str) -> bool:
    return bool(text) and "_" not in text and text[0].isupper()


@pytest.mark.parametrize("family", sorted(PRODUCED))
def test_every_code_of_every_family_has_its_own_label(family: str) -> None:
    labels = CODE_FAMILIES[family]
    assert set(labels) == PRODUCED[family], "one label per code, none for a code nothing produces"
    for code, text in labels.items():
        assert _is_a_label(text), (family, code, text)
        # A label written for people, not Django's title-cased name of the constant ("Pending Review").
        assert text != code.replace("_", " ").title() or " " not in text, (family, code, text)


def test_every_audit_action_recorded_has_a_label() -> None:
    recorded = _recorded_audit_actions()
    assert {"created", "transition", "admin.updated", "allocated", "login.locked_out"} <= recorded
    assert recorded <= set(AUDIT_ACTION_LABELS), recorded - set(AUDIT_ACTION_LABELS)
    assert all(_is_a_label(text) for text in AUDIT_ACTION_LABELS.values())


def test_the_families_are_the_apps_own_mappings() -> None:
    """One truth per family: the site's index holds the owners' objects, not copies."""
    assert CODE_FAMILIES["discrepancy_type"]["price_mismatch"] == "Price differs from PO"
    assert CODE_FAMILIES["confidence_component"] is COMPONENT_LABELS
    assert CODE_FAMILIES["review_action"] is REVIEW_ACTION_LABELS
    assert CODE_FAMILIES["audit_action"] is AUDIT_ACTION_LABELS
    assert CODE_FAMILIES["actor_kind"] is ACTOR_KIND_LABELS
    assert CODE_FAMILIES["invoice_status"]["pending_review"] == InvoiceStatus.PENDING_REVIEW.label


def test_the_template_filter_reads_the_family_and_refuses_an_unknown_one() -> None:
    rendered = Template('{% load recon_web %}{{ code|label:"discrepancy_type" }}|{{ none|label:"review_queue" }}')
    assert rendered.render(Context({"code": "price_mismatch", "none": None})) == "Price differs from PO|"
    with pytest.raises(KeyError):
        family_label(family="discrepancy_types", code="price_mismatch")
    with pytest.raises(TemplateSyntaxError):
        Template("{% load recon_web %}{{ code|label }}")


def test_a_code_without_a_label_still_reads_as_words() -> None:
    assert code_humanized("role_changed") == "Role changed"
    assert code_humanized("admin.updated") == "Admin: updated"
    assert code_label(code="new_thing", labels={}) == "New thing"
    assert code_label(code=None, labels={}) is None


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ('{{ value|unit_price:"EUR" }}', {"4.2": "4.20", "4.200000": "4.20", "10.345": "10.345", "-0.6": "-0.60"}),
        ('{{ value|unit_price:"JPY" }}', {"1250": "1250", "1250.500000": "1250.5"}),
        ("{{ value|percent }}", {"1.0000": "100 %", "0.8535": "85.4 %", "0.333": "33.3 %", "0": "0 %"}),
    ],
)
def test_prices_and_percentages_print_as_the_documents_print_them(template: str, shown: dict[str, str]) -> None:
    from decimal import Decimal

    for value, text in shown.items():
        assert Template("{% load recon_web %}" + template).render(Context({"value": Decimal(value)})) == text


# --- no raw code on any screen --------------------------------------------------------------

RAW = [
    re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),  # snake_case: price_mismatch, api_key
    re.compile(r"\b[A-Za-z]+\.(?:created|updated|deleted|locked_out)\b"),  # Admin.updated
    re.compile(r"recon-match/|\b[01]\.\d{4}\b"),  # the engine's version, a score as stored
    re.compile(r"\b(?:Pending Review|On Hold|Partially Paid|Partially Matched|Credit Note|Write Off|Api|Csv|Xml)\b"),
]
CODES = {code for labels in CODE_FAMILIES.values() for code in labels if "_" not in code and "." not in code}


class _VisibleText(HTMLParser):
    """The text a person sees or hears: text nodes, titles and ARIA labels; not scripts, styles,
    attribute values, or the hidden inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.parts += [value or "" for name, value in attrs if name in ("title", "aria-label", "placeholder")]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def raw_codes(text: str) -> list[str]:
    return [match.group(0) for pattern in RAW for match in pattern.finditer(text)]


def test_the_raw_code_check_finds_what_it_must() -> None:
    assert raw_codes("Price mismatch · price_mismatch · Admin.updated · engine recon-match/1.1 · Po match 1.0000") == [
        "price_mismatch",
        "Admin.updated",
        "recon-match/",
        "1.0000",
    ]
    assert raw_codes(visible_text('<p title="on_hold">Fine</p><input type="hidden" value="api_key">')) == ["on_hold"]


def every_page(books: EveryCode) -> list[str]:
    invoice_pages = [reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}) for invoice in books.invoices]
    return [
        reverse("web:dashboard"),
        reverse("web:queue", kwargs={"queue": "standard"}),
        reverse("web:queue", kwargs={"queue": "escalated"}),
        reverse("web:invoice-detail", kwargs={"invoice_id": books.scenario.price_mismatch.pk}),
        reverse("web:invoice-detail", kwargs={"invoice_id": books.scenario.duplicate.pk}),
        *invoice_pages,
        reverse("web:vendors"),
        reverse("web:vendor-detail", kwargs={"vendor_id": books.scenario.price_mismatch.vendor_id}),
        reverse("web:purchase-orders"),
        *[reverse("web:purchase-order-detail", kwargs={"purchase_order_id": po.pk}) for po in books.purchase_orders],
        reverse("web:receipts"),
        reverse("web:runs"),
        reverse("web:payments"),
        reverse("web:payment-suggestions"),
        *[reverse("web:payment-detail", kwargs={"payment_id": payment.pk}) for payment in books.payments],
    ]


@pytest.fixture
def books(tenant: Tenant) -> EveryCode:
    return every_code_books(tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
def test_no_page_shows_a_raw_code(books: EveryCode, role: str) -> None:
    client = Client()
    client.force_login(MembershipFactory(tenant=books.scenario.tenant, role=role).user)
    seen = ""
    for url in every_page(books):
        response = client.get(url, follow=True)  # a draft opens on its form for who may enter it
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        assert raw_codes(text) == [], (url, raw_codes(text))
        seen += text
    timeline = client.get(
        reverse("web:invoice-timeline", kwargs={"invoice_id": books.scenario.price_mismatch.pk}),
        HTTP_HX_REQUEST="true",
    )
    assert raw_codes(visible_text(timeline.content.decode())) == []
    bulk = client.post(
        reverse("web:bulk-approve", kwargs={"queue": "standard"}),
        {"invoice_ids": [str(books.scenario.price_mismatch.pk), str(books.invoices[2].pk)]},
    )
    assert bulk.status_code == 200 and raw_codes(visible_text(bulk.content.decode())) == []
    # What the pages did show: every family's labels, the prices as printed, scores as percentages.
    for family in ("discrepancy_type", "audit_action", "review_action", "match_run_trigger", "allocation_kind"):
        missing = [text for text in CODE_FAMILIES[family].values() if text not in seen]
        assert missing == [], (family, missing)
    for text in ("4.20", "10.345", "18.40", "19.00", "+0.60", "PO match", "100 %", "85.4 %", "Credit note"):
        assert text in seen, text
    assert Role(role).label in seen
