"""URLs of the settings pages, included under /app/settings in the web app's namespace."""

from __future__ import annotations

from django.urls import path

from recon_site.tenant_settings import views_access, views_approvals, views_matching

urlpatterns = [
    path("", views_matching.matching_settings, name="settings"),
    path("limits", views_matching.currency_limits, name="settings-limits"),
    path("limits/reset", views_matching.currency_limits_reset, name="settings-limits-reset"),
    path("vendors", views_matching.vendor_tolerance_index, name="settings-vendors"),
    path("vendors/<uuid:vendor_id>", views_matching.vendor_tolerance_edit, name="settings-vendor"),
    path("approvals", views_approvals.approval_policies, name="settings-approvals"),
    path("approvals/change", views_approvals.approval_rule_change, name="settings-approval-change"),
    path("approvals/<uuid:rule_id>", views_approvals.approval_rule_edit, name="settings-approval-edit"),
    path("schedules", views_matching.schedules, name="settings-schedules"),
    path("users", views_access.user_index, name="settings-users"),
    path("users/invite", views_access.user_invite_view, name="settings-user-invite"),
    path("users/<uuid:membership_id>/role", views_access.user_role_change, name="settings-user-role"),
    path("users/<uuid:membership_id>/active", views_access.user_active_set, name="settings-user-active"),
    path("api-keys", views_access.api_key_index, name="settings-api-keys"),
    path("api-keys/<uuid:api_key_id>/revoke", views_access.api_key_revoke_view, name="settings-api-key-revoke"),
    path("webhooks", views_access.webhook_index, name="settings-webhooks"),
    path("webhooks/rotate", views_access.webhook_secret_rotate_view, name="settings-webhook-rotate"),
    path("audit", views_access.audit_index, name="settings-audit"),
]
