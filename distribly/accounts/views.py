from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .forms import ProfileForm


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your settings were saved.")
        return redirect("accounts:settings")
    verified = EmailAddress.objects.filter(user=request.user, verified=True).exists()
    return render(
        request, "accounts/settings.html", {"form": form, "verified": verified}
    )
