"""My account → API keys: create (shown once) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from distribly.errors import FieldError, add_field_error
from distribly.http import AuthenticatedRequest, verified_email_required

from .forms import ApiKeyForm
from .models import ApiKey
from .services import api_key_create, api_key_revoke


@verified_email_required
def api_keys_view(request: AuthenticatedRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            created = api_key_create(
                seller=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            )
        except FieldError as e:
            add_field_error(form, e)
        else:
            new_key = created.plaintext
            form = ApiKeyForm()
    keys = ApiKey.objects.filter(seller=request.user)
    response = render(
        request, "api/api_keys.html", {"form": form, "keys": keys, "new_key": new_key}
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@verified_email_required
def api_key_revoke_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk, seller=request.user)
    api_key_revoke(api_key=key)
    messages.success(request, _("Revoked the key “%(name)s”.") % {"name": key.name})
    return redirect("api:keys")
