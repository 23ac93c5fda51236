"""How an incoming document names its vendor, for every source that imports documents naming one
(invoices and purchase orders, from CSV files, UBL and webhooks): the vendor columns of a CSV
file, the rule that a file carries at least one of them, and exact resolution remembered for the
length of one import.
"""

from __future__ import annotations

from collections.abc import Iterable

from tenants.models import Tenant
from vendors.models import Vendor
from vendors.names import normalize_tax_id, normalize_vendor_name
from vendors.selectors import VendorReference, vendor_resolve_exact, vendor_resolve_exact_many

VENDOR_COLUMNS = ("vendor_id", "vendor_tax_id", "vendor_name")
VENDOR_COLUMN_MISSING = "Name the vendor: add a vendor_id, vendor_tax_id or vendor_name column."


def vendor_columns_check(*, names: set[str]) -> list[str]:
    """A CSV header's problem when it names the vendor by none of VENDOR_COLUMNS."""
    return [] if names & set(VENDOR_COLUMNS) else [VENDOR_COLUMN_MISSING]


class VendorCache:
    """Exact vendor resolution, remembered per vendor reference for the length of one import.

    A file of 10,000 invoices from 30 vendors resolves 30 times, not 10,000; `preload` resolves a
    batch's references in a few queries (vendor_resolve_exact_many) before its documents are
    checked, so the bulk door (invoices.bulk) asks nothing per document.
    """

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._resolved: dict[tuple[str, str, str], Vendor | None] = {}

    @staticmethod
    def _key(vendor_id: object, tax_id: str, name: str) -> tuple[str, str, str]:
        return (str(vendor_id or ""), normalize_tax_id(tax_id), normalize_vendor_name(name))

    def preload(self, references: Iterable[VendorReference]) -> None:
        """Resolve every reference not resolved yet, in at most four queries."""
        missing = {reference for reference in references if self._key(*reference) not in self._resolved}
        if missing:
            for reference, vendor in vendor_resolve_exact_many(tenant=self.tenant, references=missing).items():
                self._resolved[self._key(*reference)] = vendor

    def resolve(self, *, vendor_id: object = None, tax_id: str = "", name: str = "") -> Vendor | None:
        key = self._key(vendor_id, tax_id, name)
        if key not in self._resolved:
            self._resolved[key] = vendor_resolve_exact(
                tenant=self.tenant,
                vendor_id=vendor_id,  # type: ignore[arg-type]
                tax_id=tax_id,
                name=name,
            )
        return self._resolved[key]
