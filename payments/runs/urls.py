"""The Payment runs pages (payments.runs.views), included under /app/ in the web app's namespace."""

from __future__ import annotations

from django.urls import path

from payments.runs import views

urlpatterns = [
    path("payment-runs", views.payment_run_index, name="payment-runs"),
    path("payment-runs/<uuid:run_id>", views.payment_run_detail, name="payment-run"),
    path("payment-runs/<uuid:run_id>/file", views.payment_run_file, name="payment-run-file"),
    path("payment-runs/<uuid:run_id>/remove", views.payment_run_remove, name="payment-run-remove"),
    path("payment-runs/<uuid:run_id>/add", views.payment_run_add, name="payment-run-add"),
    path("payment-runs/<uuid:run_id>/approve", views.payment_run_approve_view, name="payment-run-approve"),
    path("payment-runs/<uuid:run_id>/cancel", views.payment_run_cancel_view, name="payment-run-cancel"),
]
