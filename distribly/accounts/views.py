from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from distribly.context_processors import (
    COUNTRY_COOKIE,
    CURRENCY_COOKIE,
    buyer_country,
    display_currency,
)

from .forms import PreferencesForm, ProfileForm


def settings_view(request: HttpRequest) -> HttpResponse:
    """Settings: display preferences for everyone; profile and sign-in for accounts."""
    user = request.user
    is_profile = request.method == "POST" and "display_name" in request.POST
    prefs = PreferencesForm(
        None if is_profile else request.POST or None,
        initial={
            "display_currency": display_currency(request),
            "language": translation.get_language(),
            "country": buyer_country(request),
        },
    )
    profile = (
        ProfileForm(request.POST if is_profile else None, instance=user)
        if user.is_authenticated
        else None
    )
    if request.method == "POST":
        if profile is not None and is_profile and profile.is_valid():
            profile.save()
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts:settings")
        if not is_profile and prefs.is_valid():
            currency = prefs.cleaned_data["display_currency"]
            language = prefs.cleaned_data["language"]
            country = prefs.cleaned_data["country"]
            if user.is_authenticated:
                user.display_currency = currency
                user.language = language
                user.country = country
                user.save(update_fields=["display_currency", "language", "country"])
            translation.activate(language)
            target = request.POST.get("next", "")
            if not url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}
            ):
                target = ""
            response = redirect(target or "accounts:settings")
            response.set_cookie(
                CURRENCY_COOKIE, currency, max_age=365 * 24 * 3600, samesite="Lax"
            )
            response.set_cookie(
                COUNTRY_COOKIE, country, max_age=365 * 24 * 3600, samesite="Lax"
            )
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=365 * 24 * 3600,
                samesite="Lax",
            )
            messages.success(request, _("Your settings were saved."))
            return response
    verified = (
        EmailAddress.objects.filter(user=user, verified=True).exists()
        if user.is_authenticated
        else False
    )
    return render(
        request,
        "accounts/settings.html",
        {"prefs": prefs, "form": profile, "verified": verified},
    )
