"""Schemathesis against our own OpenAPI schema: every operation, authenticated, bounded.

The schema is read from the app itself (`/api/schema/` through the in-process WSGI app), so an
endpoint added tomorrow is fuzzed without editing this file. Each operation gets generated
requests, valid and invalid, as a tenant that has data (vendors, POs with lines, receipts,
invoices, a match run, a payment); every response must be

- no 5xx (`not_a_server_error`),
- a status code the schema documents for the operation (`status_code_conformance`),
- of a documented content type (`content_type_conformance`),
- a body valid against the documented schema of that status (`response_schema_conformance`),
- a request the schema calls valid is accepted (`positive_data_acceptance`, through
  `schema_valid_request_accepted`): the schema states every rule the server enforces on a
  field, a combination of fields JSON Schema can express (an amount's decimals by its currency,
  the fields that name an invoice's vendor), a cursor, a page size. What no schema can state
  is listed in `RULES_NO_SCHEMA_CAN_STATE`, each by the message constant the server answers
  with, and only those may refuse a schema-valid request: a reference to a row the tenant does
  not have (a random `vendor_id`), uniqueness inside a list (line numbers), arithmetic across
  fields (quantity × unit price must fit an amount), and the content of an uploaded file.

A stateful run follows the links schemathesis infers from the schema (a create's `id` feeds the
operations that take an `{id}`): the schema declares no OpenAPI links of its own.

Bounded and reproducible: `FUZZ_EXAMPLES` examples per operation (CI default below), the
stateful run `FUZZ_STATEFUL_EXAMPLES` sequences; Hypothesis derandomized with no example
database, so a failure in CI is the same failure on a laptop. The defaults take about a minute
on the project's 2-core machine; the longer run (about 11 minutes, same database as the suite):

    FUZZ_EXAMPLES=1000 FUZZ_STATEFUL_EXAMPLES=300 .venv/bin/python -m pytest tests/api/test_fuzz_schema.py

Everything runs inside the test's transaction (rolled back after), so the deferred foreign keys a
commit would check are checked after every call instead.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from core import money as money_rules
from core.actors import system_actor
from invoices import checks as invoice_rules
from matching.models import MatchRun
from matching.services import matching_run_for_tenant
from payments.runs import services as payment_run_rules
from purchasing import lifecycle as po_lifecycle_rules
from purchasing import services as purchasing_rules
from review import approval_apis as delegation_api
from review import approval_policies as review_delegations
from review import decisions as review_rules
from review import people as review_people
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.factories import (
    TEST_ACTOR,
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    VendorFactory,
)
from vendors import bank_accounts as vendor_bank_rules
from vendors import terms as vendor_terms_rules

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "25"))


def _message(template: str) -> re.Pattern[str]:
    """A message constant as the server fills it in (`{po_number!r}` → any value)."""
    return re.compile(
        "".join(".+?" if part.startswith("{") else re.escape(part) for part in re.split(r"({[^}]*})", template))
    )


# The server's rules that JSON Schema cannot state, by operation: (field path, message). Each is
# in the operation's description and has its own test (tests/api/test_bad_input_documents.py; the deposit
# rules in tests/invoices/test_amount_due.py; a receipt on a cancelled order in tests/purchasing).
_ANY_LINE = r"lines\[\d+\]"
RULES_NO_SCHEMA_CAN_STATE: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "POST /api/invoices": [
        # A row the tenant may not have.
        ("vendor_id", _message(invoice_rules.INVOICE_UNKNOWN_VENDOR_ID)),
        # Uniqueness inside the list.
        (rf"{_ANY_LINE}\.line_number", _message(invoice_rules.LINE_NUMBER_REPEATED)),
        # Arithmetic across fields: quantity × unit price and the sum of the lines must fit a
        # BIGINT of minor units; a deposit is part of the total; the stated amount due is
        # total − deposit.
        (rf"{_ANY_LINE}\.amount", _message(invoice_rules.AMOUNT_TOO_LARGE)),
        ("lines", _message(invoice_rules.SUBTOTAL_TOO_LARGE)),
        ("prepaid_amount", _message(invoice_rules.PREPAID_EXCEEDS_TOTAL)),
        ("amount_due", _message(invoice_rules.AMOUNT_DUE_DISAGREES)),
        # A decimal string's range is not in the schema (drf-spectacular writes no bounds for it).
        ("discount_pct", _message(invoice_rules.DISCOUNT_PCT_RANGE)),
    ],
    # A reviewer's reason: required for some decisions and, for approval, only over a high or
    # critical discrepancy of the latest match (review.decisions; the input's description says so).
    **{
        f"POST /api/invoices/{{id}}/{action}": [("comment", _message(review_rules.COMMENT_REQUIRED))]
        for action in ("reject", "escalate", "dispute")
    },
    "POST /api/invoices/{id}/approve": [("comment", _message(review_rules.APPROVE_OVER_SERIOUS_NEEDS_COMMENT))],
    **{
        f"POST /api/purchase-orders/{{id}}/{action}": [("comment", _message(po_lifecycle_rules.COMMENT_REQUIRED))]
        for action in ("cancel", "close", "reopen")
    },
    # Rows the tenant may not have, and dates against each other and today (review.approval_policies).
    # An API key names the delegating member; a signed-in member is it (review.approval_apis).
    "POST /api/approval-delegations/revoke": [("delegator_id", _message(delegation_api.DELEGATOR_REQUIRED))],
    "POST /api/approval-delegations": [
        ("delegator_id", _message(delegation_api.DELEGATOR_REQUIRED)),
        ("delegator_id", _message(review_people.NOT_A_MEMBER)),
        ("delegate_id", _message(review_people.NOT_A_MEMBER)),
        ("delegate_id", _message(review_delegations.DELEGATION_TO_ONESELF)),
        ("ends_on", _message(review_delegations.DELEGATION_DATES)),
        ("ends_on", _message(review_delegations.DELEGATION_PAST)),
    ],
    # A rule's amount band in its currency, its vendor among the tenant's, each step a role or
    # active members but not both (review.approval_policies, review.approval_apis).
    "POST /api/approval-rules": [
        ("currency", _message(review_delegations.BAND_NEEDS_CURRENCY)),
        ("amount_below", _message(review_delegations.BAND_EMPTY)),
        *[
            (field, _message(message))
            for field in ("amount_from", "amount_below")
            for message in (money_rules.EXCESS_PRECISION, money_rules.TOO_LARGE)
        ],
        ("vendor_id", _message(review_delegations.UNKNOWN_VENDOR)),
        ("name", _message(review_delegations.NAME_REQUIRED)),
        ("steps", _message(review_delegations.STEP_NEEDS_WHO)),
        ("steps", _message(review_delegations.STEP_ROLE_OR_USERS)),
        ("steps", _message(review_people.NOT_A_MEMBER)),
    ],
    # A bank account's number is checked as its country's (schwifty: check digits, length,
    # structure) and a rejection needs its reason (vendors.bank_accounts).
    "POST /api/vendors/{id}/bank-accounts": [
        (field, _message(message))
        for field, message in (
            ("iban", vendor_bank_rules.IBAN_OR_LOCAL),
            ("iban", vendor_bank_rules.IBAN_AND_LOCAL),
            ("iban", vendor_bank_rules.IBAN_CHECKSUM),
            ("iban", vendor_bank_rules.IBAN_LENGTH),
            ("iban", vendor_bank_rules.IBAN_COUNTRY),
            ("iban", vendor_bank_rules.IBAN_STRUCTURE),
            ("iban", vendor_bank_rules.COUNTRY_USES_IBAN),
            ("bic", vendor_bank_rules.BIC_INVALID),
            ("bic", vendor_bank_rules.BIC_COUNTRY),
            ("account_number", vendor_bank_rules.ACCOUNT_NUMBER_INVALID),
            ("bank_code", vendor_bank_rules.BANK_CODE_REQUIRED),
            ("bank_code", vendor_bank_rules.BANK_CODE_INVALID),
            ("country", vendor_bank_rules.COUNTRY_INVALID),
        )
    ],
    # A vendor's terms, read together (vendors.terms): a discount with its days, within the net days.
    "PUT /api/vendors/{id}/payment-terms": [
        ("discount_days", _message(vendor_terms_rules.DISCOUNT_NEEDS_DAYS)),
        ("discount_pct", _message(vendor_terms_rules.DAYS_NEED_DISCOUNT)),
        ("discount_days", _message(vendor_terms_rules.DISCOUNT_DAYS_OVER_NET)),
        # A decimal string's range is not in the schema (drf-spectacular writes no bounds for it).
        ("discount_pct", _message(vendor_terms_rules.DISCOUNT_PCT_RANGE)),
    ],
    "POST /api/vendors/{id}/bank-accounts/reject": [("comment", _message(vendor_bank_rules.REJECT_REASON_REQUIRED))],
    # The paying account is checked as a vendor's is (schwifty), the total in the currency's minor
    # units, the execution date against today (payments.runs.services).
    "POST /api/payment-runs": [
        (field, _message(message))
        for field, message in (
            ("debtor_iban", vendor_bank_rules.IBAN_OR_LOCAL),
            ("debtor_iban", vendor_bank_rules.IBAN_CHECKSUM),
            ("debtor_iban", vendor_bank_rules.IBAN_LENGTH),
            ("debtor_iban", vendor_bank_rules.IBAN_COUNTRY),
            ("debtor_iban", vendor_bank_rules.IBAN_STRUCTURE),
            ("debtor_iban", vendor_bank_rules.COUNTRY_USES_IBAN),
            ("debtor_bic", vendor_bank_rules.BIC_INVALID),
            ("debtor_bic", vendor_bank_rules.BIC_COUNTRY),
            ("debtor_name", payment_run_rules.NAME_REQUIRED),
            ("max_total", payment_run_rules.MAX_TOTAL_INVALID),
            ("max_total", money_rules.EXCESS_PRECISION),
            ("max_total", money_rules.TOO_LARGE),
            ("execution_date", payment_run_rules.EXECUTION_IN_PAST),
        )
    ],
    "POST /api/purchase-orders": [
        ("vendor_id", _message(purchasing_rules.PO_UNKNOWN_VENDOR)),
        (rf"{_ANY_LINE}\.line_number", _message(purchasing_rules.LINE_NUMBER_REPEATED)),
    ],
    "POST /api/goods-receipts": [
        ("po_number", _message(purchasing_rules.RECEIPT_UNKNOWN_PO)),
        ("po_number", _message(purchasing_rules.RECEIPT_PO_CANCELLED)),
        (rf"{_ANY_LINE}\.po_line_number", _message(purchasing_rules.RECEIPT_UNKNOWN_PO_LINE)),
        (rf"{_ANY_LINE}\.po_line_number", _message(purchasing_rules.LINE_NUMBER_REPEATED)),
    ],
}
# An uploaded file's content (CSV columns, UBL / CII, a PDF and the e-invoice in it, CAMT.053/MT940)
# is no JSON Schema matter: the schema says "a file"; the import tests send the real sample files.
FILE_CONTENT_ERRORS = frozenset({"csv_invalid", "xml_invalid", "pdf_invalid", "statement_invalid", "file_missing"})
# State, not shape: an `Idempotency-Key` the fuzzer already sent with another body (422).
KEY_STATE_ERRORS = frozenset({"idempotency_key_reused"})


def _refused_only_for_rules_no_schema_can_state(case: schemathesis.Case, response: Any) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    if error["code"] in KEY_STATE_ERRORS:
        return True
    if error["code"] in FILE_CONTENT_ERRORS and "requestBody" in case.operation.definition.raw:
        media_types = case.operation.definition.raw["requestBody"].get("content", {})
        return "application/json" not in media_types
    rules = RULES_NO_SCHEMA_CAN_STATE.get(case.operation.label, [])
    details = error.get("details") or {}
    return bool(details) and all(
        any(re.fullmatch(field, path) and pattern.fullmatch(message) for field, pattern in rules)
        for path, messages in details.items()
        for message in messages
    )


def schema_valid_request_accepted(ctx: CheckContext, response: Any, case: schemathesis.Case) -> bool | None:
    """`positive_data_acceptance`, except for a refusal by a rule no schema can state."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _refused_only_for_rules_no_schema_can_state(case, response):
            return None
        raise


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    schema_valid_request_accepted,
]

# Reproducible: no example database, derandomized; no deadline (a first request warms caches).
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def _seed(tenant: Tenant) -> None:
    """Some of each document, so lists have rows and filters have something to filter."""
    vendor = VendorFactory(tenant=tenant, name="Fuzz Supplies Ltd", tax_id="DE999888777", external_id="FZ-1")
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number="PO-FUZZ")
    po_lines = [
        PurchaseOrderLineFactory(
            purchase_order=purchase_order, line_number=number, quantity=Decimal("7"), unit_price=Decimal("3.141593")
        )
        for number in (1, 2)
    ]
    receipt = GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-FUZZ")
    for po_line in po_lines:
        GoodsReceiptLineFactory(goods_receipt=receipt, purchase_order_line=po_line, quantity=Decimal("7"))
    invoice = InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number="INV-FUZZ",
        po_number=purchase_order.po_number,
        invoice_date=dt.date(2026, 10, 10),
        subtotal_amount=4398,
        total_amount=4398,
    )
    for number in (1, 2):
        InvoiceLineFactory(invoice=invoice, line_number=number, description=f"widget {number}", amount=2199)
    matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor("fuzz"))
    InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number="INV-FUZZ-APPROVED", status="approved")
    PaymentFactory(tenant=tenant, counterparty_name="Fuzz Supplies Ltd", remittance_text="INV-FUZZ-APPROVED")


@pytest.fixture
def fuzz_headers(tenant: Tenant) -> Iterator[dict[str, str]]:
    """The seeded tenant's API key, with the in-process app kept on the test's connection."""
    _seed(tenant)
    _, raw_key = api_key_create(tenant=tenant, name="fuzz", actor=TEST_ACTOR)
    # Django's own test client does the same: the request signals would otherwise close the
    # connection that holds the test's transaction (and its seeded rows) after every request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": f"Bearer {raw_key}"}
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _check_deferred_constraints() -> None:
    """The test's transaction never commits: check the deferred foreign keys a commit would."""
    connection.check_constraints()


# Loaded at collection: generating the schema reads no rows. (Not `schemathesis.pytest.from_fixture`:
# in schemathesis 4.32 it sets `Function._nodeid`, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@FUZZ_SETTINGS
@schema.parametrize()
def test_every_operation_answers_as_documented(case: schemathesis.Case, fuzz_headers: dict[str, str]) -> None:
    """Generated requests, valid and invalid, to one operation: each answer as its schema says."""
    case.call_and_validate(headers=fuzz_headers, checks=CHECKS)
    _check_deferred_constraints()


def test_stateful_links(fuzz_headers: dict[str, str]) -> None:
    """Sequences of calls where one response's ids feed the next request (create → read → act)."""
    machine = schema.as_state_machine()  # infers the links (dependency analysis) into the schema
    links = [
        link
        for path_item in schema.raw_schema["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
        for link in response.get("links", {})
    ]
    assert links, "schemathesis inferred no links: the stateful run would test nothing"

    class Workflow(machine):  # type: ignore[misc,valid-type]
        # Each sequence starts from the seeded data: Hypothesis replays a sequence to check it,
        # and a database that kept the previous sequences' writes would answer it differently.
        def __init__(self) -> None:
            super().__init__()
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": fuzz_headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)
            _check_deferred_constraints()

    run_state_machine_as_test(
        Workflow,
        settings=settings(FUZZ_SETTINGS, max_examples=FUZZ_STATEFUL_EXAMPLES, stateful_step_count=6),
    )
