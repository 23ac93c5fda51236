"""The audit trail's actions as a person reads them on a timeline (`admin.updated` → "Changed in
the admin"). The actions are named by the apps that record them; their labels are gathered here,
beside the trail, so that every screen and export reads one mapping. An action missing here still
reads as words (core.labels.code_humanized); tests/web/test_labels.py lists the ones recorded."""

from __future__ import annotations

AUDIT_ACTION_LABELS = {
    "created": "Created",
    "transition": "Status changed",
    "updated": "Changed",
    "deleted": "Deleted",
    "imported": "Imported",
    "requested": "Requested",
    "granted": "Access granted",
    "revoked": "Revoked",
    "deactivated": "Deactivated",
    "reactivated": "Reactivated",
    "invited": "Invited",
    "tolerance_changed": "Tolerances changed",
    "role_changed": "Role changed",
    "alias_added": "Name added",
    "webhook_secret_set": "Webhook secret set",
    "webhook_secret_rotated": "Webhook secret rotated",
    "login.locked_out": "Sign-in locked after failed attempts",
    "admin.created": "Created in the admin",
    "admin.updated": "Changed in the admin",
    "admin.deleted": "Deleted in the admin",
    "allocated": "Payment allocated",
    "allocation_reversed": "Allocation reversed",
    "suggested": "Match suggested",
    "suggestion_withdrawn": "Suggestion withdrawn",
    "ignored": "Ignored",
    "learned": "Account learned for the vendor",
    "commented": "Commented",
    "attached": "File attached",
    "assigned": "Assigned",
    "bank_account_proposed": "Bank account proposed",
    "bank_account_approved": "Bank account approved",
    "bank_account_rejected": "Bank account rejected",
    "bank_account_retired": "Bank account replaced",
}
