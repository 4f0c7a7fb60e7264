from __future__ import annotations

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .exceptions import ListingError
from .forms import ListingForm
from .models import Listing
from .selectors import listing_stock, public_listings, seller_listings
from .services import (
    EDITABLE_FIELDS,
    listing_archive,
    listing_pause,
    listing_resume,
    listing_update,
)


def home(request: HttpRequest) -> HttpResponse:
    page = Paginator(public_listings(), 24).get_page(request.GET.get("page"))
    return render(request, "listings/home.html", {"page": page})


@verified_email_required
def listing_add(request: HttpRequest) -> HttpResponse:
    """Add an item to sell: choose what kind of item."""
    return render(request, "listings/listing_add.html")


@verified_email_required
def listing_list(request: HttpRequest) -> HttpResponse:
    """Items I'm selling, with Available quantity: one query per page for the counts."""
    page = Paginator(seller_listings(seller_id=request.user.pk), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "listings/listing_list.html", {"page": page})


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
            "max_quantity": max(1, min(listing.max_per_order, available)),
            "buyer_email": request.user.email if request.user.is_authenticated else "",
        },
    )


@verified_email_required
def listing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    listing = get_object_or_404(Listing, pk=pk, seller=request.user)
    if not listing.is_editable:
        messages.error(request, "An archived listing can't be edited.")
        return redirect("listings:listing-list")
    form = ListingForm(request.POST or None, instance=listing)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        was_rejected = listing.status == Listing.Status.REJECTED
        try:
            listing = listing_update(
                listing=Listing.objects.get(pk=listing.pk), **fields
            )
        except ListingError as e:
            messages.error(request, str(e))
        else:
            messages.success(
                request,
                "Saved. The listing is back in review."
                if was_rejected
                else "Your changes are saved.",
            )
            return redirect("listings:listing-list")
    return render(
        request, "listings/listing_edit.html", {"form": form, "listing": listing}
    )


def _seller_action(
    request: HttpRequest, pk: int, action: object, done: str
) -> HttpResponse:
    listing = get_object_or_404(Listing, pk=pk, seller=request.user)
    try:
        action(listing=listing)  # type: ignore[operator]
    except ListingError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, done.format(title=listing.title))
    return redirect("listings:listing-list")


@require_POST
@verified_email_required
def listing_pause_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _seller_action(
        request, pk, listing_pause, "“{title}” is paused: buyers can't buy it."
    )


@require_POST
@verified_email_required
def listing_resume_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _seller_action(request, pk, listing_resume, "“{title}” is back on sale.")


@require_POST
@verified_email_required
def listing_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _seller_action(request, pk, listing_archive, "“{title}” is archived.")
