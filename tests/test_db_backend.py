"""The backend's transaction bookkeeping (recon_site/db_backend): commits counted, the tenant
setting re-applied after a rolled-back savepoint."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from core.tenancy.rls import tenant_scope_clear, tenant_scope_enter
from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import InvoiceFactory, VendorFactory
from vendors.models import Vendor


def test_an_application_transaction_that_commits_is_counted_once(tenant: Tenant) -> None:
    """Under a test case its block is a savepoint; in production, a COMMIT: counted the same."""
    before = connection.commits
    with transaction.atomic():
        VendorFactory(tenant=tenant)
        with transaction.atomic():  # a savepoint of that transaction, not a commit of its own
            VendorFactory(tenant=tenant)
    assert connection.commits == before + 1


def test_a_rolled_back_transaction_and_a_read_commit_nothing(tenant: Tenant) -> None:
    before = connection.commits
    with pytest.raises(RuntimeError), transaction.atomic():
        VendorFactory(tenant=tenant)
        raise RuntimeError("rolled back")
    assert not Vendor.objects.for_tenant(tenant).exists()  # a read: no commit either
    assert connection.commits == before


def test_a_write_outside_any_transaction_commits_as_it_runs(tenant: Tenant) -> None:
    before = connection.commits
    VendorFactory(tenant=tenant)
    assert connection.commits > before


def test_a_savepoint_rolled_back_after_the_tenant_setting_changed_inside_it_sets_it_again(tenant: Tenant) -> None:
    """ROLLBACK TO SAVEPOINT undoes the SET LOCAL of the tenant sent inside it. A keyed request's
    block begins before authentication names the tenant; run again after a deadlock, it must not
    read with no tenant (row-level security: no rows, "Invalid or revoked API key")."""
    InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        assert Tenant.objects.filter(pk=tenant.pk).exists()  # no tenant scope: the setting is cleared
        try:
            with pytest.raises(RuntimeError), transaction.atomic():
                tenant_scope_enter(tenant)  # as authentication does, inside the request's block
                assert Invoice.objects.for_tenant(tenant).count() == 1
                raise RuntimeError("rolled back to the savepoint")
            assert Invoice.objects.for_tenant(tenant).count() == 1
        finally:
            tenant_scope_clear()
