from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.sitemaps import Sitemap
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST
from django_stubs_ext import StrOrPromise

from distribly.accounts.payouts import seller_can_sell, selling_sellers
from distribly.http import AuthenticatedRequest, verified_email_required

from . import reach
from .exceptions import ListingError
from .forms import ListingForm
from .models import Listing
from .selectors import (
    listing_pending_changes,
    listing_stock,
    public_listings,
    seller_listings,
)
from .services import (
    EDITABLE_FIELDS,
    ListingUpdate,
    listing_archive,
    listing_pause,
    listing_resume,
    listing_update,
)


def home(request: HttpRequest) -> HttpResponse:
    page = Paginator(public_listings(), 24).get_page(request.GET.get("page"))
    return render(request, "listings/home.html", {"page": page})


@verified_email_required
def listing_add(request: AuthenticatedRequest) -> HttpResponse:
    """Add an item to sell: choose what kind of item."""
    return render(request, "listings/listing_add.html")


@verified_email_required
def listing_list(request: AuthenticatedRequest) -> HttpResponse:
    """Items I'm selling, with Available quantity: one query per page for the counts."""
    page = Paginator(seller_listings(seller_id=request.user.pk), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "listings/listing_list.html",
        {"page": page, "needs_payouts": not seller_can_sell(request.user)},
    )


def listing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The public product page. Owners and staff may preview any status."""
    listing = get_object_or_404(Listing.objects.select_related("seller"), pk=pk)
    is_owner = request.user.is_authenticated and listing.seller_id == request.user.pk
    if not listing.is_public and not (is_owner or request.user.is_staff):
        raise Http404
    available = listing_stock(listing=listing)
    low = (
        listing.low_stock_threshold is not None
        and 0 < available < listing.low_stock_threshold
    )
    return render(
        request,
        "listings/listing_detail.html",
        {
            "listing": listing,
            "available": available,
            "low_stock": low,
            "is_owner": is_owner,
            "needs_payouts": is_owner and not seller_can_sell(listing.seller),
            "max_quantity": max(1, min(listing.max_per_order, available)),
            "share": reach.share_links(listing),
            "embed_html": reach.embed_html(listing),
            "json_ld": reach.product_json_ld(listing, available),
            "oembed_url": reverse("listings:oembed")
            + "?"
            + urlencode({"url": reach.share_links(listing)["url"], "format": "json"}),
            "buyer_email": request.user.email if request.user.is_authenticated else "",
        },
    )


@verified_email_required
def listing_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    listing = get_object_or_404(Listing, pk=pk, seller=request.user)
    if not listing.is_editable:
        messages.error(request, _("An archived listing can't be edited."))
        return redirect("listings:listing-list")
    pending = listing_pending_changes(listing=listing)
    # The form shows what the seller last proposed, not the live version.
    form = ListingForm(request.POST or None, instance=listing, initial=pending)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        was_rejected = listing.status == Listing.Status.REJECTED
        try:
            update = listing_update(listing=listing, **fields)
        except ListingError as e:
            messages.error(request, str(e))
        else:
            messages.success(request, _edit_message(update, was_rejected=was_rejected))
            return redirect("listings:listing-list")
    return render(
        request,
        "listings/listing_edit.html",
        {"form": form, "listing": listing, "pending": pending},
    )


def _edit_message(update: ListingUpdate, *, was_rejected: bool) -> str:
    if was_rejected:
        return _("Saved. The listing is back in review.")
    if update.in_review:
        return _(
            "Saved. Your changes to what buyers read go live once our team has reviewed "
            "them (usually within a day); until then buyers see the approved version."
        )
    return _("Your changes are saved.")


def _seller_action(
    request: AuthenticatedRequest,
    pk: int,
    action: Callable[..., object],
    done: StrOrPromise,
) -> HttpResponse:
    listing = get_object_or_404(Listing, pk=pk, seller=request.user)
    try:
        action(listing=listing)
    except ListingError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, str(done).format(title=listing.title))
    return redirect("listings:listing-list")


@require_POST
@verified_email_required
def listing_pause_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _seller_action(
        request,
        pk,
        listing_pause,
        gettext_lazy("“{title}” is paused: buyers can't buy it."),
    )


@require_POST
@verified_email_required
def listing_resume_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _seller_action(
        request, pk, listing_resume, gettext_lazy("“{title}” is back on sale.")
    )


@require_POST
@verified_email_required
def listing_archive_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _seller_action(
        request, pk, listing_archive, gettext_lazy("“{title}” is archived.")
    )


@xframe_options_exempt
def listing_embed(request: HttpRequest, pk: int) -> HttpResponse:
    """The embeddable product card: the only page other sites may frame."""
    listing = get_object_or_404(Listing.objects.select_related("seller"), pk=pk)
    if not listing.is_public:
        raise Http404
    available = listing_stock(listing=listing)
    return render(
        request, "listings/embed.html", {"listing": listing, "available": available}
    )


@require_GET
def oembed(request: HttpRequest) -> HttpResponse:
    """oEmbed (JSON) for product page URLs."""
    if request.GET.get("format", "json") != "json":
        return JsonResponse({"error": "only format=json is supported"}, status=501)
    match = re.fullmatch(
        re.escape(settings.SITE_URL) + r"/items/(\d+)/?", request.GET.get("url", "")
    )
    listing = (
        Listing.objects.select_related("seller").filter(pk=int(match.group(1))).first()
        if match
        else None
    )
    if listing is None or not listing.is_public:
        return JsonResponse({"error": "no such product page"}, status=404)
    return JsonResponse(reach.oembed(listing))


class ListingSitemap(Sitemap[Listing]):
    changefreq = "daily"

    def items(self) -> Any:
        return Listing.objects.filter(
            selling_sellers(), status=Listing.Status.ACTIVE, seller__is_active=True
        ).order_by("pk")

    def lastmod(self, item: Listing) -> Any:
        return item.updated_at


ROBOTS = """User-agent: *
Disallow: /admin/
Disallow: /sell/
Disallow: /account/
Disallow: /accounts/
Disallow: /orders/
Disallow: /pay/
Disallow: /api/
Sitemap: {site}/sitemap.xml
"""


@require_GET
def robots_txt(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        ROBOTS.format(site=settings.SITE_URL), content_type="text/plain"
    )
