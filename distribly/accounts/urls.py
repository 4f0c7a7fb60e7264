from __future__ import annotations

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("settings/", views.settings_view, name="settings"),
]
