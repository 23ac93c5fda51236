"""Pages where a clerk enters purchase orders and goods receipts (purchasing.entry_views),
included under /app/ in the web app's namespace."""

from __future__ import annotations

from django.urls import path

from purchasing import entry_views

urlpatterns = [
    path("purchase-orders/new", entry_views.purchase_order_new, name="purchase-order-new"),
    path(
        "purchase-orders/<uuid:purchase_order_id>/receive",
        entry_views.purchase_order_receive,
        name="purchase-order-receive",
    ),
]
