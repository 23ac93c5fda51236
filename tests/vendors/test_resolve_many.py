"""vendor_resolve_exact_many: the rules of vendor_resolve_exact, for many references in a few queries."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import Tenant
from tests.factories import VendorAliasFactory, VendorFactory
from vendors.ingest import VendorCache
from vendors.selectors import VendorReference, vendor_resolve_exact, vendor_resolve_exact_many


def test_many_references_resolve_as_each_alone_would(tenant: Tenant, other_tenant: Tenant) -> None:
    nordic = VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    initech = VendorFactory(tenant=tenant, name="Initech GmbH", tax_id="DE811234567")
    VendorFactory(tenant=tenant, name="Twin Supplies Ltd")
    VendorFactory(tenant=tenant, name="Twin Supplies GmbH")  # the same normalized name: ambiguous
    VendorAliasFactory(vendor=initech, alias="Initech Deutschland", normalized_alias="initech deutschland")
    foreign = VendorFactory(tenant=other_tenant, name="Globex Corp", tax_id="FR999")
    references: list[VendorReference] = [
        (nordic.pk, "", ""),
        (foreign.pk, "", ""),  # another tenant's id: nobody
        (uuid.uuid4(), "", "Nordic Fasteners AB"),  # an unknown id wins over a name that resolves
        (None, "se 556677889901", ""),
        (None, "DE-811.234.567", "Nordic Fasteners AB"),  # the tax id before the name
        (None, "XX000", "nordic fasteners ab."),  # an unknown tax id falls back to the name
        (None, "", "Twin Supplies"),
        (None, "", "Initech Deutschland"),
        (None, "FR999", "Globex Corp"),  # another tenant's tax id and name
        (None, "", ""),
    ]
    with CaptureQueriesContext(connection) as queries:
        resolved = vendor_resolve_exact_many(tenant=tenant, references=references)
    assert len(queries) <= 4
    for vendor_id, tax_id, name in references:
        alone = vendor_resolve_exact(tenant=tenant, vendor_id=vendor_id, tax_id=tax_id, name=name)
        assert resolved[(vendor_id, tax_id, name)] == alone, (vendor_id, tax_id, name)
    assert [resolved[reference] for reference in references[:4]] == [nordic, None, None, nordic]
    assert resolved[references[7]] == initech and resolved[references[6]] is None


def test_a_preloaded_cache_asks_nothing_more(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    cache = VendorCache(tenant)
    cache.preload([(None, "", f"Vendor {n}") for n in range(50)] + [(None, "", "Nordic Fasteners AB")])
    with CaptureQueriesContext(connection) as queries:
        assert cache.resolve(name="NORDIC FASTENERS AB") is not None
        assert cache.resolve(name="Vendor 7") is None
    assert len(queries) == 0
