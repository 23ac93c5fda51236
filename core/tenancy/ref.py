"""What the tenancy mechanism needs of a tenant: its primary key.

`tenants.Tenant` is one; the mechanism sits below the tenants app (DESIGN.md §2), so it names the
shape it reads rather than the model.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeAlias


class TenantRef(Protocol):
    """A tenant row, as far as scoping and row-level security read it."""

    @property
    def pk(self) -> Any: ...


# What a tenant-scoped call accepts: the tenant itself or its id.
TenantOrId: TypeAlias = "TenantRef | uuid.UUID | str"
