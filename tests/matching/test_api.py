"""The matching API (DESIGN.md §5, §8): start a run and follow it, the `match` block of an
invoice, the discrepancies list; and the foreign tenant, who sees none of it.

Runs are carried out in-process by calling the task (`matching.tasks.run_matching`) the API
queues, so nothing here needs Redis or NATS. Every number asserted is worked out by hand in the
docstring of the fixture that builds its data.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from matching.engine import ENGINE_VERSION
from matching.engine import batch as engine_batch
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.tasks import run_matching
from purchasing.models import PurchaseOrder
from tenants.models import Tenant
from tests.factories import InvoiceFactory, Line, MatchRunFactory, PurchaseOrderFactory, VendorFactory
from vendors.models import Vendor

RUNS = "/api/matching/runs"
DISCREPANCIES = "/api/discrepancies"
INVOICES = "/api/invoices"


def read(client: APIClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def start_run(client: APIClient, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(RUNS, data=json.dumps({}), content_type="application/json", headers=headers)


def carry_out(tenant: Tenant, client: APIClient) -> str:
    """Ask for a run through the API and run the queued task here, as a worker would."""
    response = start_run(client)
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    run_matching(str(tenant.pk), run_id=run_id)
    return run_id


def assert_error_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


# One call of `django_q.tasks.async_task`: (func, args, kwargs).
Queued = tuple[str, tuple[Any, ...], dict[str, Any]]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[Queued]:
    """Tasks handed to django-q2, recorded instead of sent to a broker."""
    calls: list[Queued] = []

    def record(func: str, *args: Any, **kwargs: Any) -> str:
        calls.append((func, args, kwargs))
        return "task-id"

    monkeypatch.setattr("django_q.tasks.async_task", record)
    return calls


# --- data --------------------------------------------------------------------------------------


@pytest.fixture
def acme(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Acme Fasteners", tax_id="DE111222333")


@pytest.fixture
def priced(tenant: Tenant, acme: Vendor) -> Invoice:
    """PO-100: 10 bolts @ 12.50, all 10 received; billed 10 @ 13.00 = 130.00 EUR.

    Price tolerance 2 % of 12.50 = 0.25; the difference 0.50 is beyond it but within 5× (1.25):
    price_mismatch [medium], 4 % above. price_match = 1 − (0.50 − 0.25) / 12.50 × 10 = 0.8.
    confidence = 0.30·1 + 0.30·1 + 0.20·1 + 0.20·0.8 = 0.96. Nothing high, a discrepancy present
    and 130.00 ≥ the 100.00 auto-approve limit: pending_review / standard.
    """
    PurchaseOrderFactory(
        vendor=acme, po_number="PO-100", lines=[Line("HB-M8", "Hex bolts M8", "10", "12.50")], received=True
    )
    return InvoiceFactory(
        vendor=acme, invoice_number="INV-100", po_number="PO-100", lines=[Line("HB-M8", "Hex bolts M8", "10", "13.00")]
    )


@pytest.fixture
def mixed(tenant: Tenant, acme: Vendor) -> Invoice:
    """PO-200: 10 bolts @ 12.50 and 5 nuts @ 2.00, all received; billed 10 bolts @ 13.00 and 6 nuts @ 2.00.

    Line 1: price_mismatch [medium] as above (price score 0.8). Line 2: 6 > 5 ordered →
    quantity_exceeds_po [high]; 6 > 5 received → quantity_not_received [medium], receipt score 5/6.
    receipt_match = (1 + 5/6) / 2 = 0.9167; price_match = (0.8 + 1) / 2 = 0.9;
    confidence = 0.30 + 0.30 + 0.20·0.9167 + 0.20·0.9 = 0.96334 → 0.9633. A high discrepancy:
    pending_review / escalated.
    """
    PurchaseOrderFactory(
        vendor=acme,
        po_number="PO-200",
        lines=[Line("HB-M8", "Hex bolts M8", "10", "12.50"), Line("HN-M8", "Hex nuts M8", "5", "2.00")],
        received=True,
    )
    return InvoiceFactory(
        vendor=acme,
        invoice_number="INV-200",
        po_number="PO-200",
        lines=[Line("HB-M8", "Hex bolts M8", "10", "13.00"), Line("HN-M8", "Hex nuts M8", "6", "2.00")],
    )


@pytest.fixture
def held(tenant: Tenant, acme: Vendor) -> Invoice:
    """PO-300: 10 washers @ 12.50, nothing received; billed 10 @ 12.50 = 125.00 EUR.

    receipt_missing [medium] only: on_hold. receipt_match 0, the rest 1: confidence 0.80.
    """
    PurchaseOrderFactory(vendor=acme, po_number="PO-300", lines=[Line("WS-M8", "Washers M8", "10", "12.50")])
    return InvoiceFactory(
        vendor=acme, invoice_number="INV-300", po_number="PO-300", lines=[Line("WS-M8", "Washers M8", "10", "12.50")]
    )


# --- POST /api/matching/runs -------------------------------------------------------------------


def test_post_run_answers_202_queued_records_the_run_and_its_audit_event(
    api: APIClient, tenant: Tenant, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    """The run is recorded as queued, by the API key, with a `requested` audit event, and the
    task for exactly that run is queued when the request commits."""
    with django_capture_on_commit_callbacks(execute=True):
        response = start_run(api)

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"id", "status"}
    assert body["status"] == "queued"
    run = MatchRun.objects.for_tenant(tenant).get()
    assert str(run.pk) == body["id"]
    assert (run.status, run.trigger, run.requested_by_kind) == ("queued", "api", "api_key")
    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="match_run", action="requested")
    assert event.entity_id == body["id"]
    assert event.after == {"trigger": "api", "status": "queued"}
    assert queued == [
        (
            "matching.tasks.run_matching",
            (str(tenant.pk),),
            {"run_id": body["id"], "trigger": "api", "task_name": f"matching-{tenant.pk}"},
        )
    ]


def test_same_idempotency_key_twice_starts_one_run(
    api: APIClient, tenant: Tenant, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    """A retried POST is the replay of the first: one run, one audit event, one queued task."""
    with django_capture_on_commit_callbacks(execute=True):
        first = start_run(api, key="run-now-1")
        second = start_run(api, key="run-now-1")

    assert (first.status_code, second.status_code) == (202, 202)
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert MatchRun.objects.for_tenant(tenant).count() == 1
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="match_run", action="requested").count() == 1
    assert [kwargs["run_id"] for _, _, kwargs in queued] == [first.json()["id"]]
    # The contrast: a new key is a new run.
    assert start_run(api, key="run-now-2").json()["id"] != first.json()["id"]
    assert MatchRun.objects.for_tenant(tenant).count() == 2


# --- following a run ---------------------------------------------------------------------------


def test_carried_out_run_shows_counts_timings_and_engine_version(
    api: APIClient, tenant: Tenant, priced: Invoice, held: Invoice
) -> None:
    run_id = carry_out(tenant, api)

    run = read(api, f"{RUNS}/{run_id}")
    assert run["id"] == run_id
    assert run["status"] == "finished"
    assert run["trigger"] == "api"
    assert run["requested_by"]["kind"] == "api_key"
    assert (run["invoices_matched"], run["invoices_failed"], run["failures"], run["error"]) == (2, 0, [], "")
    assert run["engine_version"] == ENGINE_VERSION
    assert run["query_count"] > 0
    for timing in ("duration_ms", "load_ms", "engine_ms", "write_ms"):
        assert isinstance(run[timing], int) and run[timing] >= 0
    assert run["started_at"] is not None and run["finished_at"] is not None
    assert run["started_at"] <= run["finished_at"]
    assert MatchResult.objects.for_tenant(tenant).filter(run_id=run_id).count() == 2


def test_an_invoice_that_fails_is_listed_on_the_run_and_stays_received(
    api: APIClient, tenant: Tenant, priced: Invoice, held: Invoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One bad invoice is a failure of the run, not the end of it; the other is matched."""
    real_check_header = engine_batch.check_header

    def check_header(record: Any) -> Any:
        if record.invoice_number == "INV-300":
            raise ArithmeticError("unreadable header")
        return real_check_header(record)

    monkeypatch.setattr(engine_batch, "check_header", check_header)
    run_id = carry_out(tenant, api)

    run = read(api, f"{RUNS}/{run_id}")
    assert run["status"] == "finished"
    assert (run["invoices_matched"], run["invoices_failed"]) == (1, 1)
    assert run["failures"] == [{"invoice_id": str(held.pk), "error": "ArithmeticError: unreadable header"}]
    held.refresh_from_db()
    priced.refresh_from_db()
    assert (held.status, held.latest_match_id) == (InvoiceStatus.RECEIVED, None)
    assert priced.status == InvoiceStatus.PENDING_REVIEW


def test_a_run_delivered_twice_runs_once(api: APIClient, tenant: Tenant, priced: Invoice) -> None:
    """The second delivery of the task finds the run claimed (compare-and-set) and does nothing."""
    response = start_run(api)
    run_id = response.json()["id"]

    run_matching(str(tenant.pk), run_id=run_id)
    after_first = MatchRun.objects.for_tenant(tenant).get(pk=run_id)
    outcome = run_matching(str(tenant.pk), run_id=run_id)

    assert outcome == f"{run_id} finished: 1 matched, 0 failed"
    assert MatchRun.objects.for_tenant(tenant).count() == 1
    again = MatchRun.objects.for_tenant(tenant).get(pk=run_id)
    assert (again.started_at, again.finished_at, again.invoices_matched) == (
        after_first.started_at,
        after_first.finished_at,
        1,
    )
    assert MatchResult.objects.for_tenant(tenant).filter(invoice=priced).count() == 1
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(priced.pk), action="transition").count() == 1


# --- listing runs ------------------------------------------------------------------------------


@pytest.fixture
def runs(tenant: Tenant, other_tenant: Tenant) -> dict[str, MatchRun]:
    def make(owner: Tenant, status: str, trigger: str) -> MatchRun:
        return MatchRunFactory(tenant=owner, status=status, trigger=trigger)

    made = {
        "schedule_finished": make(tenant, "finished", "schedule"),
        "api_finished": make(tenant, "finished", "api"),
        "schedule_skipped": make(tenant, "skipped", "schedule"),
        "ingest_failed": make(tenant, "failed", "ingest"),
        "api_queued": make(tenant, "queued", "api"),
    }
    make(other_tenant, "finished", "api")  # never listed for the tenant
    return made


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ("schedule_finished", "api_finished", "schedule_skipped", "ingest_failed", "api_queued")),
        ("status=finished", ("schedule_finished", "api_finished")),
        ("status=finished&status=failed", ("schedule_finished", "api_finished", "ingest_failed")),
        ("trigger=api", ("api_finished", "api_queued")),
        ("trigger=schedule&status=skipped", ("schedule_skipped",)),
        ("trigger=receipt", ()),
    ],
)
def test_run_list_filters(query: str, names: tuple[str, ...], api: APIClient, runs: dict[str, MatchRun]) -> None:
    page = read(api, f"{RUNS}?{query}&page_size=100")
    assert page["next"] is None
    assert {item["id"] for item in page["results"]} == {str(runs[name].pk) for name in names}


@pytest.mark.parametrize("query", ["status=done", "trigger=cron"])
def test_run_list_refuses_unknown_filter_values(query: str, api: APIClient) -> None:
    assert_error_envelope(api.get(f"{RUNS}?{query}"), 400, "validation_error")


def test_run_list_cursor_pagination_walks_every_run_once_newest_first(
    api: APIClient, runs: dict[str, MatchRun]
) -> None:
    seen: list[str] = []
    pages = 0
    url: str | None = f"{RUNS}?page_size=2"
    while url:
        page = read(api, url)
        pages += 1
        assert len(page["results"]) <= 2
        seen.extend(item["id"] for item in page["results"])
        url = page["next"]
        assert pages <= 5, "pagination does not terminate"
    assert pages == 3
    newest_first = sorted(runs.values(), key=lambda run: (run.created_at, run.pk), reverse=True)
    assert seen == [str(run.pk) for run in newest_first]


# --- the match block of an invoice -------------------------------------------------------------


def test_match_is_null_before_matching(api: APIClient, priced: Invoice) -> None:
    body = read(api, f"{INVOICES}/{priced.pk}")
    assert body["status"] == "received"
    assert body["match"] is None


def test_match_of_a_price_mismatch(api: APIClient, tenant: Tenant, acme: Vendor, priced: Invoice) -> None:
    """Values of the `priced` fixture, worked out by hand; expected/actual as the engine writes
    prices (`price_text`: at least the currency's decimals)."""
    run_id = carry_out(tenant, api)

    body = read(api, f"{INVOICES}/{priced.pk}")
    match = body["match"]
    po = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-100")
    [discrepancy] = match["discrepancies"]
    assert discrepancy.pop("id") == str(Discrepancy.objects.for_tenant(tenant).get(invoice=priced).pk)
    assert discrepancy == {
        "type": "price_mismatch",
        "type_label": "Price differs from PO",
        "severity": "medium",
        "severity_label": "Medium",
        "message": "Line 1: unit price 13.00 is 4 % above the PO price 12.50 (tolerance 2 %).",
        "invoice_line_number": 1,
        "po_line_number": 1,
        "expected": "12.50",
        "actual": "13.00",
    }
    assert match["confidence"] == 0.96
    assert match["breakdown"] == {"po_match": 1.0, "line_match": 1.0, "receipt_match": 1.0, "price_match": 0.8}
    assert match["decision"] == "pending_review"
    assert match["review_queue"] == "standard"
    assert match["decision_reason"] == "Review: price_mismatch."
    assert match["engine_version"] == ENGINE_VERSION
    assert match["run_id"] == run_id
    assert (match["vendor_id"], match["purchase_order_id"]) == (str(acme.pk), str(po.pk))
    assert [(a["invoice_line_number"], a["po_line_number"]) for a in match["line_assignments"]] == [(1, 1)]
    assert match["matched_at"] is not None
    # The invoice itself agrees with the decision.
    assert (body["status"], body["review_queue"]) == (match["decision"], match["review_queue"])


def test_match_lists_discrepancies_most_serious_first(api: APIClient, tenant: Tenant, mixed: Invoice) -> None:
    carry_out(tenant, api)

    match = read(api, f"{INVOICES}/{mixed.pk}")["match"]
    assert [
        (d["severity"], d["type"], d["invoice_line_number"], d["po_line_number"], d["expected"], d["actual"])
        for d in match["discrepancies"]
    ] == [
        ("high", "quantity_exceeds_po", 2, 2, "5", "6"),
        ("medium", "price_mismatch", 1, 1, "12.50", "13.00"),
        ("medium", "quantity_not_received", 2, 2, "5", "6"),
    ]
    assert match["discrepancies"][0]["message"] == (
        "Line 2 bills 6; with 0 billed before, that is 6 of the 5 ordered on PO line 2."
    )
    assert match["confidence"] == 0.9633
    assert match["breakdown"] == {"po_match": 1.0, "line_match": 1.0, "receipt_match": 0.9167, "price_match": 0.9}
    assert (match["decision"], match["review_queue"]) == ("pending_review", "escalated")
    assert match["decision_reason"] == "Escalated: quantity_exceeds_po."
    for value in (match["confidence"], *match["breakdown"].values()):
        assert isinstance(value, float) and 0 <= value <= 1
    mixed.refresh_from_db()
    assert (mixed.status, mixed.review_queue) == (InvoiceStatus.PENDING_REVIEW, ReviewQueue.ESCALATED)


def test_match_of_an_invoice_waiting_for_goods(api: APIClient, tenant: Tenant, held: Invoice) -> None:
    carry_out(tenant, api)

    body = read(api, f"{INVOICES}/{held.pk}")
    match = body["match"]
    assert match["confidence"] == 0.8
    assert match["breakdown"] == {"po_match": 1.0, "line_match": 1.0, "receipt_match": 0.0, "price_match": 1.0}
    assert (match["decision"], match["review_queue"]) == ("on_hold", None)
    assert match["decision_reason"] == "On hold until the goods are received."
    assert [{key: d[key] for key in d if key != "id"} for d in match["discrepancies"]] == [
        {
            "type": "receipt_missing",
            "type_label": "Goods not received yet",
            "severity": "medium",
            "severity_label": "Medium",
            "message": "Nothing has been received yet on the lines of purchase order PO-300.",
            "invoice_line_number": None,
            "po_line_number": None,
            "expected": None,
            "actual": None,
        }
    ]
    assert (body["status"], body["review_queue"]) == ("on_hold", None)


def test_invoice_list_queries_do_not_grow_with_matched_invoices(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """3 or 12 matched invoices, each with lines and discrepancies: the same number of queries."""

    def add_matched(count: int, start: int) -> None:
        for number in range(start, start + count):
            # No PO named and the vendor has none open: missing_po [high] on each.
            InvoiceFactory(
                vendor=acme,
                invoice_number=f"INV-N{number}",
                lines=[Line("", "Widget", "1", f"{number}.00"), Line("", "Gadget", "2", "3.00")],
            )
        carry_out(tenant, api)

    def list_queries(expected: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            page = read(api, f"{INVOICES}?page_size=50")
        assert len(page["results"]) == expected
        assert all(item["match"] and item["match"]["discrepancies"] for item in page["results"])
        assert all(len(item["lines"]) == 2 for item in page["results"])
        return len(queries)

    add_matched(3, start=1)
    with_three = list_queries(3)
    add_matched(9, start=4)
    with_twelve = list_queries(12)

    assert with_twelve == with_three


# --- GET /api/discrepancies --------------------------------------------------------------------


@pytest.fixture
def rematched(api: APIClient, tenant: Tenant, priced: Invoice, mixed: Invoice, held: Invoice) -> dict[str, Invoice]:
    """Everything matched once; then 8 of the 10 washers of PO-300 arrive, the held invoice goes
    back to `received`, and a second run matches it again: 10 billed, 8 received →
    quantity_not_received [medium] (expected "8", actual "10") on the new result.

    Discrepancies: priced 1, mixed 3, held 1 (first result) + 1 (latest) = 6.
    """
    carry_out(tenant, api)
    response = api.post(
        "/api/goods-receipts",
        data=json.dumps(
            {
                "receipt_number": "GR-300-LATE",
                "po_number": "PO-300",
                "received_date": "2026-10-20",
                "lines": [{"po_line_number": 1, "quantity": "8"}],
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    held.refresh_from_db()
    assert held.status == InvoiceStatus.RECEIVED
    carry_out(tenant, api)
    return {"priced": priced, "mixed": mixed, "held": held}


def _discrepancies(client: APIClient, query: str) -> list[dict[str, Any]]:
    page = read(client, f"{DISCREPANCIES}?{query}&page_size=100")
    assert page["next"] is None
    return page["results"]


def _kinds(client: APIClient, query: str) -> list[tuple[str, str]]:
    """(invoice number, type) pairs, sorted."""
    numbers = {str(i.pk): i.invoice_number for i in Invoice.objects.unscoped()}
    return sorted((numbers[d["invoice_id"]], d["type"]) for d in _discrepancies(client, query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "",
            [
                ("INV-100", "price_mismatch"),
                ("INV-200", "price_mismatch"),
                ("INV-200", "quantity_exceeds_po"),
                ("INV-200", "quantity_not_received"),
                ("INV-300", "quantity_not_received"),
                ("INV-300", "receipt_missing"),
            ],
        ),
        ("type=price_mismatch", [("INV-100", "price_mismatch"), ("INV-200", "price_mismatch")]),
        (
            "type=price_mismatch&type=receipt_missing",
            [("INV-100", "price_mismatch"), ("INV-200", "price_mismatch"), ("INV-300", "receipt_missing")],
        ),
        ("severity=high", [("INV-200", "quantity_exceeds_po")]),
        (
            "severity=medium&type=quantity_not_received",
            [("INV-200", "quantity_not_received"), ("INV-300", "quantity_not_received")],
        ),
        ("severity=critical", []),
        ("latest=false", [("INV-300", "receipt_missing")]),
        (
            "latest=true",
            [
                ("INV-100", "price_mismatch"),
                ("INV-200", "price_mismatch"),
                ("INV-200", "quantity_exceeds_po"),
                ("INV-200", "quantity_not_received"),
                ("INV-300", "quantity_not_received"),
            ],
        ),
    ],
)
def test_discrepancy_list_filters(
    query: str, expected: list[tuple[str, str]], api: APIClient, rematched: dict[str, Invoice]
) -> None:
    assert _kinds(api, query) == expected


def test_discrepancies_of_one_invoice_latest_and_history(api: APIClient, rematched: dict[str, Invoice]) -> None:
    """After a re-match, latest=true shows only the newest result's discrepancies; false the history."""
    held = rematched["held"]
    held.refresh_from_db()
    every = _discrepancies(api, f"invoice_id={held.pk}")
    [latest] = _discrepancies(api, f"invoice_id={held.pk}&latest=true")
    [older] = _discrepancies(api, f"invoice_id={held.pk}&latest=false")

    assert {d["id"] for d in every} == {latest["id"], older["id"]}
    assert (latest["type"], latest["expected"], latest["actual"]) == ("quantity_not_received", "8", "10")
    assert latest["match_result_id"] == str(held.latest_match_id)
    assert (older["type"], older["severity"]) == ("receipt_missing", "medium")
    assert older["match_result_id"] != latest["match_result_id"]
    assert read(api, f"{DISCREPANCIES}/{latest['id']}") == latest


def test_unknown_discrepancy_type_is_a_400_envelope(api: APIClient) -> None:
    error = assert_error_envelope(
        api.get(f"{DISCREPANCIES}?type=price_mismatch&type=overcharge"), 400, "validation_error"
    )
    assert "type" in error["details"]


@pytest.mark.parametrize("value", ["yes", "1"])
def test_unreadable_latest_value_is_a_400_envelope(value: str, api: APIClient, rematched: dict[str, Invoice]) -> None:
    """Like every other filter: a value that cannot be read is refused, not ignored."""
    assert_error_envelope(api.get(f"{DISCREPANCIES}?latest={value}"), 400, "validation_error")


# --- the foreign tenant ------------------------------------------------------------------------


def test_foreign_tenant_gets_404_for_a_run_and_a_discrepancy(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, priced: Invoice
) -> None:
    run_id = carry_out(tenant, api)
    discrepancy_id = _discrepancies(api, "")[0]["id"]

    assert_error_envelope(foreign_api.get(f"{RUNS}/{run_id}"), 404, "not_found")
    assert_error_envelope(foreign_api.get(f"{DISCREPANCIES}/{discrepancy_id}"), 404, "not_found")
    assert read(foreign_api, RUNS)["results"] == []
    assert read(foreign_api, DISCREPANCIES)["results"] == []
    assert read(foreign_api, f"{DISCREPANCIES}?invoice_id={priced.pk}")["results"] == []


def test_foreign_tenants_run_never_matches_our_invoices(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant, priced: Invoice
) -> None:
    foreign_run_id = carry_out(other_tenant, foreign_api)

    foreign_run = read(foreign_api, f"{RUNS}/{foreign_run_id}")
    assert (foreign_run["status"], foreign_run["invoices_matched"]) == ("finished", 0)
    priced.refresh_from_db()
    assert (priced.status, priced.latest_match_id) == (InvoiceStatus.RECEIVED, None)
    assert not MatchResult.objects.unscoped().filter(invoice=priced).exists()

    # The contrast: the owner's run does match it.
    own_run_id = carry_out(tenant, api)
    assert read(api, f"{RUNS}/{own_run_id}")["invoices_matched"] == 1


# --- OpenAPI -----------------------------------------------------------------------------------


def openapi_schema(client: APIClient) -> dict[str, Any]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def list_parameters(schema: dict[str, Any], path: str) -> set[str]:
    return {parameter["name"] for parameter in schema["paths"][path]["get"].get("parameters", [])}


def test_openapi_schema_documents_the_matching_endpoints(api: APIClient) -> None:
    paths = openapi_schema(APIClient())["paths"]
    assert set(paths[RUNS]) >= {"get", "post"}
    assert "202" in paths[RUNS]["post"]["responses"]
    assert set(paths[f"{RUNS}/{{id}}"]) >= {"get"}
    assert set(paths[DISCREPANCIES]) >= {"get"}
    assert set(paths[f"{DISCREPANCIES}/{{id}}"]) >= {"get"}

    # Generated for a caller with a key, the lists carry their filters.
    schema = openapi_schema(api)
    assert list_parameters(schema, RUNS) >= {"status", "trigger", "cursor", "page_size"}
    assert list_parameters(schema, DISCREPANCIES) >= {"type", "severity", "invoice_id", "latest"}


def test_public_openapi_schema_documents_the_list_filters() -> None:
    schema = openapi_schema(APIClient())
    assert list_parameters(schema, RUNS) >= {"status", "trigger"}
    assert list_parameters(schema, DISCREPANCIES) >= {"type", "severity", "invoice_id", "latest"}
