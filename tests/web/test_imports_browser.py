"""A clerk brings files in through the Import page in Chromium: a good invoices CSV chosen with the
file input (checked, imported, its invoices linked), a bad one dropped on the page (its problems
beside its rows, nothing written), a CAMT.053 statement (its payments created), and a large CSV
that a worker checks and imports while the page follows its progress row."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.quantities import MUST_BE_POSITIVE
from invoices.models import Invoice
from payments.models import Payment
from review.intake.tasks import import_job_run
from review.models import ImportJob, ImportStatus
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.background import jobs_run_by_a_thread
from tests.web.browser import PHONE, chromium_page, log_in
from tests.web.test_browser import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = TESTS.parent / "docs" / "samples"
CAMT053 = TESTS / "payments" / "testdata" / "test-camt053.xml"
HEADER = "invoice_number,vendor_name,currency,invoice_date,total_amount,description,quantity,unit_price"
BAD = (
    f"{HEADER}\n"
    "INV-1,Nordic Fasteners AB,EUR,2026-10-01,10.00,Bolts,1,10.00\n"
    "INV-2,Nordic Fasteners AB,EUR,2026-10-02,20.00,Nuts,-2,10.00\n"
)
LARGE_INVOICES = 520  # past 500 rows, where the reader first reports its progress
WORKER_TIMEOUT = 120_000  # ms: a check or an import of the large file, on a busy machine
CLERK = "clerk-import"

# Drops files on the page's drop zone as a browser's drag and drop would: a DataTransfer
# carrying them, in a `drop` event.
DROP = """([zone, files]) => {
  const transfer = new DataTransfer();
  for (const [name, text] of files) transfer.items.add(new File([text], name, {type: "text/csv"}));
  document.querySelector(zone).dispatchEvent(
    new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


@pytest.fixture
def desk(settings: Any) -> Tenant:
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username=CLERK), role=Role.CLERK)
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    VendorFactory(tenant=tenant, name="Acme Industrial Supplies GmbH", tax_id="DE811234567")
    return tenant


@pytest.fixture
def browser(live_server: Any, desk: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, CLERK)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
        page.get_by_role("heading", name="Import", exact=True).wait_for()
        yield page
        assert page.console_errors == []


def _card(page: Any, filename: str) -> Any:
    return page.get_by_test_id("import-job").filter(has=page.get_by_role("heading", name=filename))


def _status(page: Any, filename: str, status: str, *, timeout: float = 10_000) -> None:
    status_badge = _card(page, filename).get_by_test_id("job-status")
    status_badge.filter(has_text=re.compile(f"^{status}$")).wait_for(timeout=timeout)


def test_a_good_invoices_csv_is_checked_imported_and_its_invoices_linked(browser: Any, desk: Tenant) -> None:
    page = browser
    page.set_input_files("#import-files", str(SAMPLES / "invoices.csv"))
    page.get_by_role("button", name="Check files").click()
    _status(page, "invoices.csv", "Ready to import")
    card = _card(page, "invoices.csv")
    assert card.get_by_test_id("fact-rows").inner_text() == "3"
    assert card.get_by_test_id("fact-documents").inner_text() == "2"
    assert card.get_by_test_id("fact-new").inner_text() == "2"
    assert card.get_by_test_id("fact-totals").inner_text() == "579.07 EUR"
    assert not Invoice.objects.for_tenant(desk).exists()
    page.screenshot(path=str(SCREENSHOTS / "import-preview.png"), full_page=True)

    card.get_by_role("button", name="Import invoices.csv").click()
    _status(page, "invoices.csv", "Imported")
    page.screenshot(path=str(SCREENSHOTS / "import-result.png"), full_page=True)
    created = _card(page, "invoices.csv").get_by_test_id("job-created")
    assert sorted(created.get_by_role("link").all_inner_texts()) == ["AIS-5531", "NF-10288"]
    created.get_by_role("link", name="NF-10288").click()
    page.get_by_role("heading", name=re.compile("NF-10288")).wait_for()
    assert Invoice.objects.for_tenant(desk).count() == 2

    page.go_back()
    page.get_by_role("link", name="These invoices in the invoice list").click()
    page.get_by_test_id("invoice-count").filter(has_text=re.compile("^2 invoices$")).wait_for()
    assert page.get_by_label("Only the invoices created from the imported file").is_checked()


def test_a_bad_csv_dropped_on_the_page_shows_its_problems_beside_its_rows(browser: Any, desk: Tenant) -> None:
    page = browser
    page.evaluate(DROP, ["[data-dropzone]", [["bad.csv", BAD]]])
    page.locator("[data-dropzone-files]").get_by_text("bad.csv").wait_for()
    page.get_by_role("button", name="Check files").click()
    _status(page, "bad.csv", "Has problems")
    row = _card(page, "bad.csv").locator('tr[data-row="3"]')
    assert row.locator("td.has-problem").inner_text() == "-2"
    assert f"quantity: {MUST_BE_POSITIVE}" in row.locator("td.problems").inner_text()
    assert _card(page, "bad.csv").locator('tr[data-row="2"]').count() == 0
    assert _card(page, "bad.csv").get_by_role("button").count() == 0  # nothing to import
    page.screenshot(path=str(SCREENSHOTS / "import-problems.png"), full_page=True)
    assert not Invoice.objects.for_tenant(desk).exists()
    # On a phone the rows scroll inside their card; the page itself does not scroll sideways.
    for url in (page.url, "/app/imports"):
        page.set_viewport_size(PHONE)
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"], url


def test_a_camt053_statement_is_previewed_then_its_payments_created(browser: Any, desk: Tenant) -> None:
    page = browser
    page.set_input_files("#import-files", str(CAMT053))
    page.get_by_role("button", name="Check files").click()
    _status(page, CAMT053.name, "Ready to import")
    card = _card(page, CAMT053.name)
    assert "Bank statement (CAMT.053, MT940 or CSV) · detected from the file" in card.inner_text()
    new = int(card.get_by_test_id("fact-new").inner_text())
    assert new > 0 and card.get_by_test_id("job-rows").locator("tbody tr").count() > 0
    assert not Payment.objects.for_tenant(desk).exists()

    card.get_by_role("button", name=f"Import {CAMT053.name}").click()
    _status(page, CAMT053.name, "Imported")
    links = _card(page, CAMT053.name).get_by_test_id("job-created").get_by_role("link")
    assert links.count() == new == Payment.objects.for_tenant(desk).count()
    links.first.click()
    page.wait_for_url(re.compile(r"/app/payments/[0-9a-f-]{36}$"))


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[threading.Thread]]:
    """django-q2's worker, played by a thread: each queued import job runs a moment later."""
    with jobs_run_by_a_thread(monkeypatch, task="review.intake.tasks.import_job_run", run=import_job_run) as threads:
        yield threads


def test_a_large_csv_goes_through_a_worker_and_the_page_follows_its_progress(
    browser: Any, desk: Tenant, settings: Any, worker: list[threading.Thread], tmp_path: Path
) -> None:
    settings.IMPORT_SYNC_MAX_BYTES = 10_000
    large = tmp_path / "october.csv"
    rows = [
        f"OCT-{number:04},Nordic Fasteners AB,EUR,2026-10-{number % 28 + 1:02},12.50,Bolts,5,2.50"
        for number in range(LARGE_INVOICES)
    ]
    large.write_text("\n".join([HEADER, *rows]) + "\n")
    assert large.stat().st_size > settings.IMPORT_SYNC_MAX_BYTES

    page = browser
    page.set_input_files("#import-files", str(large))
    page.get_by_role("button", name="Check files").click()
    _status(page, "october.csv", "Checking")
    assert _card(page, "october.csv").get_by_test_id("job-progress").is_visible()
    _status(page, "october.csv", "Ready to import", timeout=WORKER_TIMEOUT)  # polled: nobody reloads the page
    assert _card(page, "october.csv").get_by_test_id("fact-new").inner_text() == str(LARGE_INVOICES)

    _card(page, "october.csv").get_by_role("button", name="Import october.csv").click()
    _status(page, "october.csv", "Importing")
    page.screenshot(path=str(SCREENSHOTS / "import-progress.png"), full_page=True)
    _status(page, "october.csv", "Imported", timeout=WORKER_TIMEOUT)
    job = ImportJob.objects.for_tenant(desk).get()
    assert (job.status, job.rows_done, job.rows_total) == (ImportStatus.IMPORTED, LARGE_INVOICES, LARGE_INVOICES)
    assert Invoice.objects.for_tenant(desk).count() == LARGE_INVOICES
    assert f"{LARGE_INVOICES} in all; the first 100 are listed." in _card(page, "october.csv").inner_text()
