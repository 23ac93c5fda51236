"""The raw bulk paths of core.tenancy.scoping: `tenant_rows_insert` stores exactly what `bulk_create`
would, `tenant_copy_insert` what it is given, and none of them (nor `tenant_rows_update`) touches
another tenant's rows."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction

from audit.models import OutboxMessage
from core.tenancy.rls import tenant_scope
from core.tenancy.scoping import tenant_copy_insert, tenant_rows_insert, tenant_rows_update
from invoices.models import InvoiceLine
from matching.models import MatchResult
from tenants.models import Tenant
from tests.factories import BOLTS, InvoiceFactory, MatchRunFactory, VendorFactory

# Quotes, backslashes, braces, commas and non-ASCII: everything an array or JSON literal escapes.
AWKWARD = 'Müller "Präzision" {a,b} \\ 100 % — ok'


def _payload() -> dict[str, object]:
    return {"title": AWKWARD, "amount": 18.4, "nested": {"list": [1, None, "x"]}, "none": None}


@pytest.mark.django_db
def test_inserted_rows_read_back_as_bulk_created_ones(tenant: Tenant) -> None:
    by_bulk_create = OutboxMessage.objects.bulk_create(
        [OutboxMessage(tenant=tenant, subject=AWKWARD, payload=_payload())]
    )[0]
    inserted = tenant_rows_insert(
        tenant=tenant, rows=[OutboxMessage(tenant=tenant, subject=AWKWARD, payload=_payload())]
    )

    rows = {row.pk: row for row in OutboxMessage.objects.for_tenant(tenant)}
    stored, reference = rows[inserted[0].pk], rows[by_bulk_create.pk]
    fields = ("subject", "payload", "attempts", "last_error", "next_attempt_at", "published_at")
    assert [getattr(stored, name) for name in fields] == [getattr(reference, name) for name in fields]
    assert stored.payload["nested"] == {"list": [1, None, "x"]} and stored.payload["none"] is None
    assert abs(stored.created_at - reference.created_at) < dt.timedelta(minutes=1)  # auto_now_add applied
    assert not inserted[0]._state.adding


@pytest.mark.django_db
def test_decimals_nulls_and_foreign_keys_keep_their_values(tenant: Tenant) -> None:
    invoice = InvoiceFactory(vendor=VendorFactory(tenant=tenant, name="Acme"), invoice_number="INV-1", lines=[BOLTS])
    run = MatchRunFactory(tenant=tenant, status="running")
    result = MatchResult(
        tenant=tenant,
        invoice=invoice,
        run=run,
        vendor=None,
        purchase_order=None,
        confidence=Decimal("0.9500"),
        breakdown={"po_match": "1.0000"},
        decision="approved",
        review_queue=None,
        decision_reason=AWKWARD,
        engine_version="x",
    )

    tenant_rows_insert(tenant=tenant, rows=[result])

    stored = MatchResult.objects.for_tenant(tenant).get(pk=result.pk)
    assert (stored.confidence, stored.vendor_id, stored.review_queue, stored.run_id) == (
        Decimal("0.9500"),
        None,
        None,
        run.pk,
    )
    assert (stored.decision_reason, stored.breakdown, stored.line_assignments) == (AWKWARD, {"po_match": "1.0000"}, [])


@pytest.mark.django_db
def test_another_tenants_row_is_refused_and_nothing_is_written(tenant: Tenant, other_tenant: Tenant) -> None:
    rows = [
        OutboxMessage(tenant=tenant, subject="mine", payload={}),
        OutboxMessage(tenant=other_tenant, subject="theirs", payload={}),
    ]

    with pytest.raises(ValueError, match="rows of tenant"):
        tenant_rows_insert(tenant=tenant, rows=rows)

    assert not OutboxMessage.objects.unscoped().filter(subject__in=["mine", "theirs"]).exists()


@pytest.mark.django_db
def test_an_update_by_id_arrays_leaves_another_tenants_rows_alone(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = OutboxMessage.objects.create(tenant=tenant, subject="mine", payload={})
    theirs = OutboxMessage.objects.create(tenant=other_tenant, subject="theirs", payload={})

    updated = tenant_rows_update(
        tenant=tenant,
        model=OutboxMessage,
        fields=("subject",),
        rows=[(mine.pk, "changed"), (theirs.pk, "changed"), (uuid.uuid4(), "nobody")],
    )

    assert updated() == 1
    assert OutboxMessage.objects.unscoped().get(pk=theirs.pk).subject == "theirs"
    assert OutboxMessage.objects.for_tenant(tenant).get(pk=mine.pk).subject == "changed"


# Everything COPY's text format escapes, and its NULL marker written as text.
COPY_AWKWARD = AWKWARD + "\ttab\nnew line\r\\N"
LINE_FIELDS = (
    "id", "invoice_id", "line_number", "sku", "description", "quantity", "unit_price", "amount", "po_line_number",
    "matched_po_line_id",
)  # fmt: skip


def _line(invoice_id: uuid.UUID, number: int, description: str = COPY_AWKWARD) -> tuple[object, ...]:
    return (
        uuid.uuid4(),
        invoice_id,
        number,
        "",
        description,
        Decimal("0.0001"),
        Decimal("123456.654321"),
        12,
        None,
        None,
    )


@pytest.mark.django_db
def test_copied_rows_keep_their_values_and_are_the_tenants(tenant: Tenant) -> None:
    invoice = InvoiceFactory(vendor=VendorFactory(tenant=tenant, name="Acme"), invoice_number="INV-1")
    rows = [_line(invoice.pk, 1), _line(invoice.pk, 2, description="plain")]

    created_at = tenant_copy_insert(tenant=tenant, model=InvoiceLine, fields=LINE_FIELDS, rows=rows)
    # Again in the same transaction: the staging table was emptied (lines 1 and 2 are not repeated).
    tenant_copy_insert(tenant=tenant, model=InvoiceLine, fields=LINE_FIELDS, rows=[_line(invoice.pk, 3)])

    stored = InvoiceLine.objects.for_tenant(tenant).filter(invoice=invoice).order_by("line_number")
    assert [(line.pk, line.description) for line in stored] == [
        (rows[0][0], COPY_AWKWARD),
        (rows[1][0], "plain"),
        (stored[2].pk, COPY_AWKWARD),
    ]
    first = stored[0]
    assert (first.quantity, first.unit_price, first.amount, first.po_line_number, first.matched_po_line_id) == (
        Decimal("0.0001"),
        Decimal("123456.654321"),
        12,
        None,
        None,
    )
    assert {line.tenant_id for line in stored} == {tenant.pk} and first.created_at == created_at


@pytest.mark.django_db
def test_a_copy_for_another_tenant_is_refused_by_row_level_security(tenant: Tenant, other_tenant: Tenant) -> None:
    """Under the runtime role (tests/conftest.py), inside the tenant's scope: the staging table is
    not under RLS, the INSERT that moves its rows is, and its policy refuses the other tenant's."""
    theirs = InvoiceFactory(vendor=VendorFactory(tenant=other_tenant, name="Globex"), invoice_number="G-1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user)")
        assert cursor.fetchone() == (settings.DB_RUNTIME_ROLE, False)

    with tenant_scope(tenant), pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
        tenant_copy_insert(tenant=other_tenant, model=InvoiceLine, fields=LINE_FIELDS, rows=[_line(theirs.pk, 1)])

    assert not InvoiceLine.objects.unscoped().filter(invoice=theirs).exists()


@pytest.mark.django_db
def test_a_copy_must_name_every_column_but_the_tenant_and_its_creation_time(tenant: Tenant) -> None:
    with pytest.raises(ValueError, match="every column"):
        tenant_copy_insert(tenant=tenant, model=InvoiceLine, fields=(*LINE_FIELDS, "tenant_id"), rows=[])
    with pytest.raises(ValueError, match="every column"):
        tenant_copy_insert(tenant=tenant, model=InvoiceLine, fields=LINE_FIELDS[:-1], rows=[])
