"""Recon's PostgreSQL backend: Django's, plus the tenant setting that row-level security reads.

Every connection carries a `tenants.rls.ScopeApplier` as its first execute wrapper, so no
statement of the app's reaches PostgreSQL without `app.tenant_id` saying whose rows it may see.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from tenants.rls import ScopeApplier


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rls_scope = ScopeApplier()
        # First in the list: `connection.execute_wrapper()` blocks push and pop after it.
        self.execute_wrappers.insert(0, self.rls_scope)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.rls_scope.reset()
        return super().get_new_connection(conn_params)
