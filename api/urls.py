from __future__ import annotations

from django.urls import path

from . import views

app_name = "api"
urlpatterns = [
    path("sell/api-keys/", views.api_keys_view, name="keys"),
    path(
        "sell/api-keys/<int:pk>/revoke/", views.api_key_revoke_view, name="key-revoke"
    ),
]
