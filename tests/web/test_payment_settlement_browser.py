"""The loop closed, in Chromium (#19 item 5): a run pays two vendors; the clerk imports, through the
Import page, the bank statement on which both transfers went out (CAMT.053, each debit carrying the
run's EndToEndId and nothing else to go by: no remittance, no known account); once the
reconciliation has run, every invoice of the run reads Paid, reconciled by the EndToEndId."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.money import from_minor
from invoices.models import Invoice, InvoiceStatus
from payments.models import PaymentRunItem
from payments.reconciliation.services import reconciliation_run_for_tenant
from payments.runs.services import payment_run_approve
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, TenantFactory
from tests.payments.run_books import (
    actor_of,
    approved_invoice,
    paying_vendor,
    people,
    run_proposed,
)
from tests.payments.test_payment_returns import RETURN_FIXTURE, matched
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)

OPENING = Decimal("50000.00")


def executed_statement(transfers: dict[str, int]) -> bytes:
    """The return fixture's statement with only debits: one per transfer (EndToEndId → amount in
    minor units), booked the day the run executed, and the closing balance that follows."""
    text = RETURN_FIXTURE.read_text(encoding="utf-8")
    first = text.index("<Ntry>")
    debit_end = text.index("</Ntry>") + len("</Ntry>")
    last_end = text.rindex("</Ntry>") + len("</Ntry>")
    debit = text[first:debit_end]
    entries = "\n            ".join(
        debit.format(end_to_end_id=e2e, amount=format(from_minor(amount, "EUR"), "f")).replace(
            "Northwind Traders", "Creditor"
        )
        for e2e, amount in transfers.items()
    )
    closing = OPENING - sum((from_minor(amount, "EUR") for amount in transfers.values()), Decimal(0))
    head = text[:first].replace(
        f'<Amt Ccy="EUR">{OPENING}</Amt>\n                <CdtDbtInd>CRDT</CdtDbtInd>\n                <Dt>\n'
        "                    <Dt>2026-11-20</Dt>",
        f'<Amt Ccy="EUR">{closing}</Amt>\n                <CdtDbtInd>CRDT</CdtDbtInd>\n                <Dt>\n'
        "                    <Dt>2026-11-20</Dt>",
    )
    head = head.replace("RETURN-TEST/1", "RUN-EXECUTED/1").replace("RECON/TEST/RETURN/1", "RECON/TEST/RUN/1")
    return (head + entries + text[last_end:]).encode("utf-8")


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    south = paying_vendor(tenant, "Southwind GmbH", 2, clerk=clerk, approver=approver)
    invoices = [
        matched(approved_invoice(north, "NW-1001", 1_200_00)),
        matched(approved_invoice(north, "NW-1002", 300_00)),
        matched(approved_invoice(south, "SW-77", 450_00)),
    ]
    run = run_proposed(tenant, clerk)
    run = payment_run_approve(tenant=tenant, run=run, actor=actor_of(approver))
    transfers: dict[str, int] = {}
    for item in PaymentRunItem.objects.for_tenant(tenant).filter(run=run):
        transfers[item.end_to_end_id] = transfers.get(item.end_to_end_id, 0) + item.amount
    assert len(transfers) == 2  # one transfer per vendor
    return {
        "tenant": tenant,
        "clerk": clerk.username,
        "invoices": invoices,
        "statement": executed_statement(transfers),
        "url": live_server.url,
    }


def test_a_statement_with_the_run_s_end_to_end_ids_pays_every_invoice(books: dict[str, Any], tmp_path: Any) -> None:
    tenant = books["tenant"]
    statement = tmp_path / "statement-run.xml"
    statement.write_bytes(books["statement"])
    with chromium_page(base_url=books["url"]) as page:
        log_in(page, books["clerk"])
        for invoice in books["invoices"]:
            page.goto(f"/app/invoices/{invoice.pk}")
            assert page.get_by_test_id("invoice-status").inner_text() == "Payment scheduled"
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
        page.set_input_files("#import-files", str(statement))
        page.get_by_role("button", name="Check files").click()
        card = page.get_by_test_id("import-job").filter(has=page.get_by_role("heading", name=statement.name))
        card.get_by_test_id("job-status").filter(has_text="Ready to import").wait_for()
        card.get_by_role("button", name=f"Import {statement.name}").click()
        card.get_by_test_id("job-status").filter(has_text="Imported").wait_for()
        # The worker's part: the import queues a reconciliation run, played here.
        reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR)

        for invoice in books["invoices"]:
            page.goto(f"/app/invoices/{invoice.pk}")
            assert page.get_by_test_id("invoice-status").inner_text() == "Paid"
        assert page.console_errors == []

    statuses = {Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).status for invoice in books["invoices"]}
    assert statuses == {InvoiceStatus.RECONCILED}
