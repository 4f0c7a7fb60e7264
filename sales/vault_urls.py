"""The buyer's side after the sale: My purchases (the vault) and Find my codes."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import vault_views

urlpatterns: list[URLPattern] = [
    path("account/purchases/", vault_views.purchases, name="purchases"),
    path("find-my-codes/", vault_views.find_codes, name="find-codes"),
    path(
        "find-my-codes/<str:token>/",
        vault_views.find_codes_orders,
        name="find-codes-orders",
    ),
]
