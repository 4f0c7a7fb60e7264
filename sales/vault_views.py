"""The buyer's vault: My purchases (every code they hold) and Find my codes."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from distribly.http import (
    AuthenticatedRequest,
    client_ip,
    client_network,
    private_page,
    query_without,
)

from .exceptions import FindCodesLimited
from .forms import FindCodesForm
from .services.delivery import orders_page_viewed
from .services.vault import (
    FIND_CODES_LINK_AGE,
    find_codes_email,
    find_codes_request,
)
from .vault import (
    orders_for_email,
    vault_codes,
    vault_orders,
    vault_rows,
    vault_waiting,
)

CODES_PER_PAGE = 25
LINK_MINUTES = int(FIND_CODES_LINK_AGE.total_seconds() // 60)


@require_GET
@login_required
def purchases(request: AuthenticatedRequest) -> HttpResponse:
    """My purchases: every code the buyer holds, newest first, with a search.

    Only the codes of this page are decrypted, and their orders record the view,
    as the order page does. The number of queries does not grow with the page.
    """
    query = request.GET.get("q", "").strip()[:100]
    orders = vault_orders(user=request.user, query=query)
    page = Paginator(vault_codes(orders), CODES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = vault_rows(list(page.object_list))
    if rows:
        orders_page_viewed(
            order_ids=sorted({row.order.pk for row in rows}), ip=client_ip(request)
        )
    extra = query_without(request, "page")
    context = {
        "page": page,
        "rows": rows,
        "waiting": vault_waiting(orders) if page.number == 1 else [],
        "query": query,
        "extra_query": extra,
    }
    return private_page(render(request, "sales/purchases.html", context))


@require_http_methods(["GET", "POST"])
def find_codes(request: HttpRequest) -> HttpResponse:
    """Find my codes: asks for an email and answers the same whether or not we
    know it; the link goes out by email (services.vault.find_codes_request)."""
    form = FindCodesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        language = translation.get_language() or settings.LANGUAGE_CODE
        try:
            find_codes_request(
                email=form.cleaned_data["email"],
                network=client_network(client_ip(request)),
                language=language,
            )
        except FindCodesLimited as e:
            messages.error(request, str(e))
            return render(request, "sales/find_codes.html", {"form": form}, status=429)
        messages.success(
            request,
            _(
                "If we have orders for that address, we've sent it a link to them. "
                "It works for %(minutes)d minutes."
            )
            % {"minutes": LINK_MINUTES},
        )
        return redirect("sales:find-codes")
    return render(request, "sales/find_codes.html", {"form": form})


@require_GET
def find_codes_orders(request: HttpRequest, token: str) -> HttpResponse:
    """The page a Find my codes link opens: the address's orders, each linking to
    its order page (where the codes are). The link is the capability: the page is
    never cached and never passes its URL on."""
    try:
        email = find_codes_email(token=token)
    except signing.SignatureExpired:
        response = render(
            request,
            "sales/find_codes_invalid.html",
            {"expired": True, "minutes": LINK_MINUTES},
            status=410,
        )
    except signing.BadSignature:
        response = render(
            request, "sales/find_codes_invalid.html", {"expired": False}, status=400
        )
    else:
        page = Paginator(orders_for_email(email=email), 50).get_page(
            request.GET.get("page")
        )
        response = render(
            request, "sales/find_codes_orders.html", {"email": email, "page": page}
        )
    return private_page(response)
