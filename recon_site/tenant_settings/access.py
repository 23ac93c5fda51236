"""Who may open the settings pages: a signed-in administrator of the current tenant, no one else.

A clerk or an approver gets the app's 403 page (tenants.http.error_pages.permission_denied),
for a page opened by hand as for a form posted by hand: hiding the link is not the check.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from tenants.http.web import ViewFunc, tenant_view, web_of
from tenants.models import Role

ADMINS_ONLY = "Only an administrator of this organisation can open its settings."

# The sections of the settings pages, in the order of their tabs: (URL name, title).
SECTIONS = (
    ("web:settings", "Matching"),
    ("web:settings-limits", "Amount limits"),
    ("web:settings-vendors", "Vendor tolerances"),
    ("web:settings-approvals", "Approvals"),
    ("web:settings-users", "Users"),
    ("web:settings-api-keys", "API keys"),
    ("web:settings-webhooks", "Webhooks"),
    ("web:settings-schedules", "Schedules"),
    ("web:settings-audit", "Audit trail"),
)


def admin_view(view: ViewFunc) -> ViewFunc:
    """`tenant_view`, for administrators only (others: PermissionDenied, the 403 page)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if web_of(request).role != Role.ADMIN:
            raise PermissionDenied(ADMINS_ONLY)
        return view(request, *args, **kwargs)

    return tenant_view(wrapper)


def section_context(*, section: str) -> dict[str, Any]:
    """What every settings page's layout needs: the side navigation's entry and the tabs."""
    return {"nav": "settings", "section": section, "sections": SECTIONS}
