"""What the review app stores of its own: the invoice list's saved views, one clerk's each."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.tenancy.scoping import TenantOwnedModel

SAVED_VIEW_NAME_MAX = 80
SAVED_VIEW_QUERY_MAX = 2000


class SavedInvoiceView(TenantOwnedModel):
    """A clerk's name for a set of filters and a sort of the invoice list ("Disputed, Acme, by
    amount"). Private to its user: another user, of this tenant or another, gets a 404.

    `query` is the list's canonical query string (review.invoice_list.invoice_list_query),
    read again through the list's form when the view is opened: a filter the list no longer
    understands is then ignored like any other bad parameter, never an error.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=SAVED_VIEW_NAME_MAX)
    query = models.CharField(max_length=SAVED_VIEW_QUERY_MAX, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # Leads with the tenant (core.tenancy.scoping), and serves the side list's read.
            models.UniqueConstraint(fields=["tenant", "user", "name"], name="savedinvoiceview_unique_name"),
            models.CheckConstraint(condition=~models.Q(name=""), name="savedinvoiceview_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name
