"""What the tenancy mechanism and the audit trail need of a tenant: its primary key and slug.

`tenants.Tenant` is one; the mechanism sits below the tenants app (DESIGN.md §2), so it names the
shape it reads rather than the model; so does `audit`, the layer above, which every app writes to.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeAlias


class TenantRef(Protocol):
    """A tenant row, as far as scoping, row-level security and the audit chain read it."""

    @property
    def pk(self) -> Any: ...

    @property
    def slug(self) -> str: ...


# What a tenant-scoped call accepts: the tenant itself or its id.
TenantOrId: TypeAlias = "TenantRef | uuid.UUID | str"
