from __future__ import annotations

from django.urls import path

from . import views

app_name = "codes"
urlpatterns = [
    path("sell/unique-codes/", views.unique_codes_create, name="unique-codes-create"),
    path("sell/items/<int:pk>/batches/", views.listing_batches, name="listing-batches"),
    path("sell/items/<int:pk>/batches/add/", views.batch_add, name="batch-add"),
    path("sell/batches/<int:pk>/", views.batch_detail, name="batch-detail"),
    path(
        "sell/batches/<int:pk>/progress.json",
        views.batch_progress,
        name="batch-progress",
    ),
    path(
        "sell/batches/<int:pk>/rejected-lines.csv",
        views.batch_issues_download,
        name="batch-issues-download",
    ),
    path(
        "sell/batches/<int:pk>/codes.csv",
        views.batch_codes_download,
        name="batch-codes-download",
    ),
    path(
        "sell/batches/<int:pk>/withdraw/", views.batch_withdraw, name="batch-withdraw"
    ),
    path("sell/validate/", views.validate, name="validate"),
    path(
        "sell/validate/<int:code_id>/redeem/",
        views.validate_redeem,
        name="validate-redeem",
    ),
    path("sell/webhooks/", views.webhooks_view, name="webhooks"),
    path("sell/webhooks/test/", views.webhook_test_view, name="webhook-test"),
    path("sell/webhooks/secret/", views.webhook_secret_show, name="webhook-secret"),
    path("sell/webhooks/disable/", views.webhook_disable_view, name="webhook-disable"),
]
