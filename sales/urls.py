from __future__ import annotations

from django.urls import path

from . import claims_views, earnings_views, overview_views, views
from .vault_urls import urlpatterns as vault_urlpatterns

app_name = "sales"
urlpatterns = [
    path("items/<int:pk>/buy/", views.checkout, name="checkout"),
    path("pay/test/<str:ref>/", views.dev_pay, name="dev-pay"),
    path("orders/<str:token>/", views.order_detail, name="order-detail"),
    path("orders/<str:token>/resend/", views.order_resend_view, name="order-resend"),
    path(
        "orders/<str:token>/codes/<int:code_id>/report/",
        claims_views.claim_report,
        name="claim-report",
    ),
    path(
        "orders/<str:token>/problems/<int:pk>/escalate/",
        claims_views.claim_escalate_view,
        name="claim-escalate",
    ),
    path("sell/earnings/problems/", claims_views.claims_list, name="claims"),
    path(
        "sell/earnings/problems/<int:pk>/",
        claims_views.claim_detail,
        name="claim-detail",
    ),
    path(
        "sell/earnings/problems/<int:pk>/<str:action>/",
        claims_views.claim_answer,
        name="claim-answer",
    ),
    path(
        "sell/sales/codes/<int:code_id>/disabled/",
        claims_views.code_disabled,
        name="code-disabled",
    ),
    path("sell/sales/", views.sales_list, name="sales-list"),
    path("sell/sales/export.csv", views.sales_export, name="sales-export"),
    path(
        "sell/sales/codes/<int:code_id>/show/",
        views.sales_show_code,
        name="sales-show-code",
    ),
    path("sell/sales/<str:reference>/refund/", views.sales_refund, name="sales-refund"),
    path("sell/validate/<int:code_id>/cancel/", views.code_cancel, name="code-cancel"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
    path(
        "stripe/connect/webhook/",
        earnings_views.stripe_connect_webhook,
        name="stripe-connect-webhook",
    ),
    path("sell/earnings/", overview_views.earnings_overview, name="earnings"),
    path("sell/earnings/payouts/", earnings_views.payouts, name="payouts"),
    path(
        "sell/earnings/payouts/setup/",
        earnings_views.payouts_setup,
        name="payouts-setup",
    ),
    path(
        "sell/earnings/payouts/refresh/",
        earnings_views.payouts_refresh,
        name="payouts-refresh",
    ),
    path(
        "sell/earnings/payouts/return/",
        earnings_views.payouts_return,
        name="payouts-return",
    ),
    path(
        "sell/earnings/payouts/dashboard/",
        earnings_views.payouts_dashboard,
        name="payouts-dashboard",
    ),
    path(
        "pay/test/onboard/<str:account_id>/",
        earnings_views.dev_onboard,
        name="dev-onboard",
    ),
]
urlpatterns += vault_urlpatterns
