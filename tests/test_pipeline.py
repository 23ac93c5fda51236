"""`connection.pipelined()` (core.tenancy.db_backend): statements sent without waiting for each
other, with the same tenant scoping, the same errors and the same all-or-nothing as without."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from audit.models import OutboxMessage
from core.tenancy.scoping import tenant_rows_insert, tenant_rows_update
from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import InvoiceFactory


def test_a_pipeline_needs_a_transaction() -> None:
    # Its errors surface late; only a transaction can then take back what came after them.
    with pytest.raises(RuntimeError, match="inside a transaction"), connection.pipelined():
        pass


@pytest.mark.django_db
def test_a_query_sees_its_tenant_while_a_statement_naming_none_is_still_in_flight(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = InvoiceFactory(tenant=tenant)
    InvoiceFactory(tenant=other_tenant)
    with transaction.atomic(), connection.pipelined():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # names no tenant: row-level security is told none
        # Sent while that one is unanswered: the connection is busy, not idle nor merely in a
        # transaction, and row-level security must still be told this query's tenant.
        assert list(Invoice.objects.for_tenant(tenant).values_list("pk", flat=True)) == [mine.pk]


@pytest.mark.django_db
def test_update_counts_are_right_when_asked_for_after_later_statements(tenant: Tenant) -> None:
    first, second = (OutboxMessage.objects.create(tenant=tenant, subject=s, payload={}) for s in ("a", "b"))
    with transaction.atomic(), connection.pipelined():
        renamed = tenant_rows_update(
            tenant=tenant, model=OutboxMessage, fields=("subject",), rows=[(first.pk, "x"), (second.pk, "y")]
        )
        stale = tenant_rows_update(
            tenant=tenant,
            model=OutboxMessage,
            fields=("subject",),
            rows=[(first.pk, "z")],
            only_where={"subject": "a"},  # no longer true once the first update has run
        )
        tenant_rows_insert(tenant=tenant, rows=[OutboxMessage(tenant=tenant, subject="c", payload={})])
        assert (renamed(), stale(), renamed()) == (2, 0, 2)
    subjects = sorted(OutboxMessage.objects.for_tenant(tenant).values_list("subject", flat=True))
    assert subjects == ["c", "x", "y"]


@pytest.mark.django_db(transaction=True)
def test_an_error_in_a_pipeline_is_djangos_and_nothing_of_the_transaction_is_kept(tenant: Tenant) -> None:
    duplicate = uuid.uuid4()
    with pytest.raises(IntegrityError, match="duplicate key"), transaction.atomic(), connection.pipelined():
        tenant_rows_insert(tenant=tenant, rows=[OutboxMessage(tenant=tenant, subject="kept?", payload={})])
        tenant_rows_insert(tenant=tenant, rows=[OutboxMessage(id=duplicate, tenant=tenant, subject="1", payload={})])
        tenant_rows_insert(tenant=tenant, rows=[OutboxMessage(id=duplicate, tenant=tenant, subject="2", payload={})])
    assert not OutboxMessage.objects.for_tenant(tenant).exists()
    with transaction.atomic(), connection.pipelined():  # the connection is usable again
        tenant_rows_insert(tenant=tenant, rows=[OutboxMessage(tenant=tenant, subject="after", payload={})])
    assert list(OutboxMessage.objects.for_tenant(tenant).values_list("subject", flat=True)) == ["after"]
