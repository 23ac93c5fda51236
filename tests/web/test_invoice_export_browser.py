"""A clerk exports a long invoice list as XLSX in Chromium: the list is over the threshold, so a
worker writes the file while the page shows its progress, then offers it; the downloaded file
holds exactly the rows the list showed, in its order."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from review.invoice_export import EXPORT_HEADERS
from review.tasks import export_job_run
from tenants.models import Tenant
from tests.web.background import jobs_run_by_a_thread
from tests.web.browser import chromium_page, log_in
from tests.web.test_invoice_list_browser import _count, _rows, desk  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_TIMEOUT = 60_000  # ms


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[threading.Thread]]:
    """django-q2's worker, played by a thread: a queued export is written a moment later."""
    with jobs_run_by_a_thread(monkeypatch, task="review.tasks.export_job_run", run=export_job_run) as threads:
        yield threads


def test_a_clerk_exports_a_long_list_as_xlsx_in_the_background(
    live_server: Any,
    desk: Tenant,  # noqa: F811
    settings: Any,
    worker: list[threading.Thread],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings.EXPORT_SYNC_MAX_ROWS = 20
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-list")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
        _count(page, "57 invoices")
        page.get_by_label("Approved", exact=True).check()
        page.get_by_label("Disputed", exact=True).check()
        _count(page, "42 invoices")
        page.get_by_role("link", name="Amount").click()
        page.locator("a.sort.asc", has_text="Amount").wait_for()
        page.get_by_label("Rows per page", exact=True).select_option("50")
        page.wait_for_url(re.compile(r"per_page=50"))
        listed = _rows(page)
        assert len(listed) == 42

        page.get_by_test_id("export-xlsx").click()
        page.get_by_role("heading", name="Export of the invoice list").wait_for()
        job = page.get_by_test_id("export-job")
        assert job.get_by_test_id("export-progress").is_visible()  # waiting for the worker, polled
        page.get_by_test_id("export-ready").wait_for(timeout=WORKER_TIMEOUT)  # nobody reloads the page
        assert page.get_by_test_id("export-ready").inner_text() == "42 invoices, exactly as the list showed them."
        assert page.get_by_test_id("export-kept").inner_text().startswith("The file is kept until ")

        with page.expect_download() as download:
            page.get_by_test_id("export-download").click()
        target = tmp_path / "export.xlsx"
        download.value.save_as(target)
        sheet = openpyxl.load_workbook(io.BytesIO(target.read_bytes()), read_only=True)["Invoices"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == EXPORT_HEADERS
        number, status = EXPORT_HEADERS.index("Invoice number"), EXPORT_HEADERS.index("Status")
        assert [row[number] for row in rows[1:]] == listed
        assert {row[status] for row in rows[1:]} == {"Approved", "Disputed"}

        page.get_by_role("link", name="Back to the list").click()
        _count(page, "42 invoices")
        assert _rows(page) == listed
        assert page.console_errors == []
