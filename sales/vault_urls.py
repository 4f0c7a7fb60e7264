"""The buyer's side after the sale: My purchases (the vault) and Find my codes."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
