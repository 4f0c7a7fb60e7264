"""Earnings → Payouts: the seller's payout account, balance and payouts.

Plus the `dev` provider's simulated onboarding page, and Stripe's Connect webhook.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from distribly.accounts.models import PayoutAccount
from distribly.http import AuthenticatedRequest, verified_email_required

from .models import Payout
from .payments import get_provider
from .payments.base import AccountState, Balance, PaymentError
from .selectors import earnings_deductions
from .services.earnings import (
    dev_payout_simulate,
    payout_account_refresh,
    payout_account_save,
    payout_account_start,
    seller_balance,
)
from .webhooks import webhook_response

logger = logging.getLogger(__name__)


@login_required
def payouts(request: AuthenticatedRequest) -> HttpResponse:
    account = PayoutAccount.objects.filter(user=request.user).first()
    balance: Balance | None = None
    if account is not None and account.details_submitted:
        try:
            balance = seller_balance(account=account)
        except PaymentError as e:
            messages.warning(
                request,
                _("Your balance could not be loaded: %(reason)s") % {"reason": e},
            )
    return render(
        request,
        "sales/payouts.html",
        {
            "account": account,
            "provider": get_provider(),
            "balance": balance,
            "payouts": Payout.objects.filter(seller=request.user)[:50],
            "deductions": earnings_deductions(seller_id=request.user.pk),
            "payouts_required": settings.SELLERS_NEED_PAYOUTS,
        },
    )


@require_POST
@verified_email_required
def payouts_setup(request: AuthenticatedRequest) -> HttpResponse:
    """`Set up payouts`: a fresh onboarding link on every click (they expire)."""
    return _onboard(request)


@verified_email_required
def payouts_refresh(request: AuthenticatedRequest) -> HttpResponse:
    """The provider sends the seller here (a GET) when an onboarding link expired:
    a fresh link for an account already opened; nothing is opened by a GET."""
    if not PayoutAccount.objects.filter(user=request.user).exists():
        return redirect("sales:payouts")
    return _onboard(request)


def _onboard(request: AuthenticatedRequest) -> HttpResponse:
    try:
        url = payout_account_start(
            user=request.user,
            refresh_url=request.build_absolute_uri(reverse("sales:payouts-refresh")),
            return_url=request.build_absolute_uri(reverse("sales:payouts-return")),
        )
    except PaymentError as e:
        messages.error(
            request,
            _("Payouts could not be set up right now: %(reason)s") % {"reason": e},
        )
        return redirect("sales:payouts")
    return redirect(url)


@login_required
def payouts_return(request: AuthenticatedRequest) -> HttpResponse:
    """Back from onboarding: show the provider's state of the account now."""
    account = PayoutAccount.objects.filter(user=request.user).first()
    if account is None:
        return redirect("sales:payouts")
    try:
        account = payout_account_refresh(account=account)
    except PaymentError as e:
        messages.warning(
            request,
            _("We could not check your account yet: %(reason)s") % {"reason": e},
        )
        return redirect("sales:payouts")
    if account.can_receive:
        messages.success(
            request, _("Payouts are set up: your listings can be on sale.")
        )
    else:
        messages.info(
            request,
            _("Your payout account is not ready yet: see what is still needed below."),
        )
    return redirect("sales:payouts")


@require_POST
@login_required
def payouts_dashboard(request: AuthenticatedRequest) -> HttpResponse:
    """The provider's dashboard for the account (links expire: one per click)."""
    account = get_object_or_404(PayoutAccount, user=request.user)
    try:
        url = get_provider(account.provider).dashboard_link(
            account_id=account.account_id
        )
    except PaymentError as e:
        messages.error(request, str(e))
        return redirect("sales:payouts")
    return redirect(url)


# --- the dev provider's simulated onboarding -------------------------------------------


@login_required
def dev_onboard(request: AuthenticatedRequest, account_id: str) -> HttpResponse:
    """A clearly labelled test page standing in for the provider's onboarding."""
    account = get_object_or_404(
        PayoutAccount, account_id=account_id, provider="dev", user=request.user
    )
    if settings.PAYMENT_PROVIDER != "dev":
        raise Http404
    back = request.GET.get("return", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("sales:payouts-return")
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision == "payout":
            paid = dev_payout_simulate(account=account)
            messages.success(
                request,
                _("Simulated payouts: %(amounts)s.")
                % {"amounts": ", ".join(f"{p.amount} {p.currency}" for p in paid)}
                if paid
                else _("Nothing is available to pay out yet."),
            )
            return redirect("sales:payouts")
        if decision == "complete":
            payout_account_save(
                user=request.user,
                state=AccountState(
                    account_id=account.account_id,
                    details_submitted=True,
                    charges_enabled=True,
                    payouts_enabled=True,
                ),
            )
        return redirect(back)
    return render(request, "sales/dev_onboard.html", {"account": account, "back": back})


# --- Stripe Connect webhook ---------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_connect_webhook(request: HttpRequest) -> HttpResponse:
    """Events about sellers' payout accounts (their own endpoint and secret)."""
    provider = get_provider("stripe")
    return webhook_response(request, provider, provider.parse_connect_webhook)
