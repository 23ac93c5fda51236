"""How an incoming document names its vendor, for every source that imports documents naming one
(invoices and purchase orders, from CSV files, UBL and webhooks): the vendor columns of a CSV
file, the rule that a file carries at least one of them, and exact resolution remembered for the
length of one import.
"""

from __future__ import annotations

from tenants.models import Tenant
from vendors.models import Vendor
from vendors.names import normalize_tax_id, normalize_vendor_name
from vendors.selectors import vendor_resolve_exact

VENDOR_COLUMNS = ("vendor_id", "vendor_tax_id", "vendor_name")
VENDOR_COLUMN_MISSING = "Name the vendor: add a vendor_id, vendor_tax_id or vendor_name column."


def vendor_columns_check(*, names: set[str]) -> list[str]:
    """A CSV header's problem when it names the vendor by none of VENDOR_COLUMNS."""
    return [] if names & set(VENDOR_COLUMNS) else [VENDOR_COLUMN_MISSING]


class VendorCache:
    """Exact vendor resolution, remembered per vendor reference for the length of one import.

    A file of 10,000 invoices from 30 vendors resolves 30 times, not 10,000. Only the ingestion
    pre-checks use it; `invoice_create` still resolves on its own.
    """

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._resolved: dict[tuple[str, str, str], Vendor | None] = {}

    def resolve(self, *, vendor_id: object = None, tax_id: str = "", name: str = "") -> Vendor | None:
        key = (str(vendor_id or ""), normalize_tax_id(tax_id), normalize_vendor_name(name))
        if key not in self._resolved:
            self._resolved[key] = vendor_resolve_exact(
                tenant=self.tenant,
                vendor_id=vendor_id,  # type: ignore[arg-type]
                tax_id=tax_id,
                name=name,
            )
        return self._resolved[key]
