"""Reads of what Recon learned: the rows matching's loader turns into the engine's inputs (one
query each per batch, matching.loading.learned), and the listing of learned facts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection

from django.db.models import Q, QuerySet

from learning.models import (
    ChoiceKind,
    DecisionExample,
    ExampleKind,
    HumanChoice,
    ItemAlias,
    SuggestionStatus,
    ToleranceSuggestion,
)
from tenants.models import Tenant


def item_alias_rows(*, tenant: Tenant, vendor_ids: Collection[uuid.UUID]) -> list[ItemAlias]:
    """The active (not forgotten) item aliases of these vendors, oldest first."""
    return list(
        ItemAlias.objects.for_tenant(tenant)
        .filter(vendor_id__in=list(vendor_ids), forgotten_at__isnull=True)
        .select_related("example")
        .order_by("created_at", "id")
        .only("vendor_id", "invoice_key", "po_item_key", "learned_by_label", "created_at", "tenant_id", "example__kind")
    )


def human_choice_rows(*, tenant: Tenant, invoice_ids: Collection[uuid.UUID]) -> list[HumanChoice]:
    """The choices by hand in force (not superseded) on these invoices, oldest first."""
    return list(
        HumanChoice.objects.for_tenant(tenant)
        .filter(invoice_id__in=list(invoice_ids), superseded_at__isnull=True)
        .select_related("purchase_order")
        .order_by("created_at", "id")
        .only(
            "purchase_order__po_number",
            "kind",
            "invoice_id",
            "invoice_line_id",
            "vendor_id",
            "purchase_order_id",
            "po_line_id",
            "chosen_by_label",
            "created_at",
            "tenant_id",
        )
    )


def lines_assigned_by_hand(*, tenant: Tenant, invoice_id: uuid.UUID) -> dict[uuid.UUID, HumanChoice]:
    """The invoice's lines assigned by hand, by invoice line id (the choice in force)."""
    return {
        choice.invoice_line_id: choice
        for choice in HumanChoice.objects.for_tenant(tenant)
        .filter(invoice_id=invoice_id, kind=ChoiceKind.LINE, superseded_at__isnull=True)
        .select_related("po_line")
        if choice.invoice_line_id is not None
    }


def accepted_tolerance_rule_rows(*, tenant: Tenant) -> list[ToleranceSuggestion]:
    """The suggestions an administrator accepted and nobody undid: one per vendor and kind at most."""
    return list(
        ToleranceSuggestion.objects.for_tenant(tenant)
        .filter(status=SuggestionStatus.ACCEPTED)
        .only(
            "vendor_id",
            "kind",
            "proposed_pct",
            "low_pct",
            "high_pct",
            "approvals",
            "decided_by_label",
            "decided_at",
            "tenant_id",
        )
    )


def tolerance_suggestions(*, tenant: Tenant) -> QuerySet[ToleranceSuggestion]:
    return ToleranceSuggestion.objects.for_tenant(tenant).select_related("vendor").order_by("-created_at")


def item_aliases(*, tenant: Tenant) -> QuerySet[ItemAlias]:
    return ItemAlias.objects.for_tenant(tenant).select_related("vendor", "example").order_by("-created_at")


def decision_examples(*, tenant: Tenant) -> QuerySet[DecisionExample]:
    return DecisionExample.objects.for_tenant(tenant).select_related("vendor", "invoice").order_by("-created_at")


TAUGHT_KEYS = {"name": "taught_alias", "tax_id": "taught_tax_id"}  # by vendors.VendorAliasKind


def vendor_alias_teachings(*, tenant: Tenant) -> list[tuple[str, str, uuid.UUID, str, dt.date]]:
    """The vendor names and tax ids people taught by choosing a vendor by hand: (kind, normalized
    alias, vendor id, who, when), oldest first (an alias taught again later names the later
    choice). One query."""
    rows = (
        DecisionExample.objects.for_tenant(tenant)
        .filter(kind=ExampleKind.VENDOR_RESOLUTION, actor_kind="user")
        .filter(Q(details__has_key="taught_alias") | Q(details__has_key="taught_tax_id"))
        .order_by("created_at", "id")
        .values("details__taught_alias", "details__taught_tax_id", "vendor_id", "actor_label", "created_at")
    )
    taught = [
        ({"taught_alias": row["details__taught_alias"], "taught_tax_id": row["details__taught_tax_id"]}, row)
        for row in rows
    ]
    return [
        (kind, values[key], row["vendor_id"], row["actor_label"], row["created_at"].date())
        for values, row in taught
        for kind, key in TAUGHT_KEYS.items()
        if values[key]
    ]
