"""Schemathesis against our own OpenAPI schema: every operation, authenticated, bounded.

The schema is read from the app itself (`/api/schema/` through the in-process WSGI app), so an
endpoint added tomorrow is fuzzed without editing this file. Each operation gets generated
requests, valid and invalid, as a tenant that has data (vendors, POs with lines, receipts,
invoices, a match run, a payment); every response must be

- no 5xx (`not_a_server_error`),
- a status code the schema documents for the operation (`status_code_conformance`),
- of a documented content type (`content_type_conformance`),
- a body valid against the documented schema of that status (`response_schema_conformance`).

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
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audit.actors import system_actor
from matching.models import MatchRun
from matching.services import matching_run_for_tenant
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.factories import (
    TEST_ACTOR,
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    VendorFactory,
)
from tests.payments.factories import PaymentFactory

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "25"))

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

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
