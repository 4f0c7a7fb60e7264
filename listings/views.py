from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.sitemaps import Sitemap
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django_countries import countries
from django_stubs_ext import StrOrPromise

from distribly.accounts.payouts import seller_can_sell
from distribly.context_processors import buyer_country
from distribly.http import (
    AuthenticatedRequest,
    client_ip,
    client_network,
    query_without,
    verified_email_required,
)

from . import reach
from .exceptions import ListingError
from .forms import ListingForm, SearchForm, WaitlistForm
from .models import Listing
from .search import (
    PAGE_SIZE,
    SearchFilters,
    Sort,
    category_counts,
    category_from_slug,
    category_slug,
    discoverable_listings,
    search_listings,
    seller_codes_sold,
    storefront_sellers,
)
from .selectors import (
    listing_pending_changes,
    listing_queue_counts,
    listing_stock,
    seller_listings,
    waitlist_entry_by_token,
)
from .services import (
    EDITABLE_FIELDS,
    ListingUpdate,
    WaitlistJoin,
    listing_archive,
    listing_pause,
    listing_resume,
    listing_update,
    waitlist_confirm,
    waitlist_join,
    waitlist_leave,
)

HOME_RECENT = 12


def home(request: HttpRequest) -> HttpResponse:
    """The search field, the categories with their counts, and recent listings."""
    counts = category_counts()
    categories = [
        {"label": label, "slug": category_slug(value), "count": counts[value]}
        for value, label in Listing.Category.choices
    ]
    recent = search_listings(filters=SearchFilters(sort=Sort.NEWEST))[:HOME_RECENT]
    return render(
        request,
        "listings/home.html",
        {"categories": categories, "recent": list(recent)},
    )


def _results_page(
    request: HttpRequest, *, category: str = "", seller_id: int | None = None
) -> dict[str, Any]:
    """The form, the page of results (None while the input is invalid: the form
    shows what is wrong) and the query string that pagination links keep."""
    form = SearchForm(request.GET, fixed_category=bool(category))
    page = None
    if form.is_valid():
        filters = SearchFilters.from_form(form.cleaned_data, category=category)
        results = search_listings(filters=filters, seller_id=seller_id)
        page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = any(request.GET.get(name) for name in form.fields if name != "q")
    return {
        "form": form,
        "page": page,
        "extra_query": query_without(request, "page"),
        "filtered": filtered,
    }


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """Search results: /search/?q=…, with filters, sort and pages."""
    context = _results_page(request)
    context["query"] = (request.GET.get("q") or "").strip()
    return render(request, "listings/search.html", context)


@require_safe
def category(request: HttpRequest, slug: str) -> HttpResponse:
    """A category page: a search with the category fixed by the URL."""
    value = category_from_slug(slug)
    if value is None:
        raise Http404
    context = _results_page(request, category=value)
    context["category_label"] = Listing.Category(value).label
    return render(request, "listings/category.html", context)


@require_safe
def storefront(request: HttpRequest, pk: int) -> HttpResponse:
    """A seller's storefront: who they are, their track record, their listings."""
    seller = get_object_or_404(storefront_sellers(), pk=pk)
    results = search_listings(filters=SearchFilters(sort=Sort.NEWEST), seller_id=pk)
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "listings/storefront.html",
        {
            "seller": seller,
            "page": page,
            "codes_sold": seller_codes_sold(seller_id=pk),
        },
    )


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


def _viewable_listing(request: HttpRequest, pk: int) -> tuple[Listing, bool]:
    """The listing behind a product page, and whether the visitor is its seller.
    Owners and staff may preview any status; others see public listings only."""
    listing = get_object_or_404(Listing.objects.select_related("seller"), pk=pk)
    is_owner = request.user.is_authenticated and listing.seller_id == request.user.pk
    if not listing.is_public and not (is_owner or request.user.is_staff):
        raise Http404
    return listing, is_owner


def listing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The public product page. Owners and staff may preview any status."""
    listing, is_owner = _viewable_listing(request, pk)
    email = request.user.email if request.user.is_authenticated else ""
    return _render_detail(
        request, listing, is_owner, WaitlistForm(initial={"email": email})
    )


def _render_detail(
    request: HttpRequest, listing: Listing, is_owner: bool, waitlist_form: WaitlistForm
) -> HttpResponse:
    available = listing_stock(listing=listing)
    low = (
        listing.low_stock_threshold is not None
        and 0 < available < listing.low_stock_threshold
    )
    on_sale = listing.status == Listing.Status.ACTIVE and available > 0
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
            # Notify me when it's back: sold out or paused, for buyers (not the seller).
            "waitlist_form": (
                waitlist_form
                if listing.is_public and not on_sale and not is_owner
                else None
            ),
            # The seller sees how many wait, never who.
            "queue": listing_queue_counts(listing_id=listing.pk) if is_owner else None,
            **_found_context(request, listing),
        },
    )


def _found_context(request: HttpRequest, listing: Listing) -> dict[str, Any]:
    """Category, platform and region facts, the buyer's-country warning, the covers."""
    region = list(listing.region)
    country = buyer_country(request)
    outside = bool(region) and bool(country) and country not in {c.code for c in region}
    return {
        "category_url": reverse(
            "listings:category", args=[category_slug(listing.category)]
        ),
        "works_in": ", ".join(sorted(str(c.name) for c in region)),
        "buyer_country_name": countries.name(country) if outside else "",
        "share_image": (
            reach.absolute(listing.cover_share.url) if listing.cover_share else ""
        ),
    }


@require_POST
def waitlist_join_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Notify me when it's back. Form errors show on the product page by the field."""
    listing, is_owner = _viewable_listing(request, pk)
    if not listing.is_public:
        raise Http404
    form = WaitlistForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, listing, is_owner, form)
    email = form.cleaned_data["email"]
    try:
        joined = waitlist_join(
            listing_id=listing.pk,
            email=email,
            user=request.user if request.user.is_authenticated else None,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            network=client_network(client_ip(request)),
        )
    except ListingError as e:  # WaitlistLimited too
        messages.error(request, str(e))
        return redirect(listing)
    messages.success(request, _waitlist_joined_message(joined, email))
    return redirect(listing)


def _waitlist_joined_message(joined: WaitlistJoin, email: str) -> str:
    if not joined.own_address:
        # The same answer whether or not the address was on the list already: the
        # form must not tell anyone who else is on it.
        return _(
            "Thank you. Unless %(email)s is on the list already, we've emailed it a "
            "link: you join the waitlist once you confirm."
        ) % {"email": email}
    if joined.created:
        return _("You're on the waitlist: we'll email %(email)s when it's back.") % {
            "email": email
        }
    return _(
        "You're already on the waitlist: we'll email %(email)s when it's back."
    ) % {"email": email}


@require_http_methods(["GET", "POST"])
def waitlist_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the confirmation email: a page with a Confirm button. A link alone
    must not confirm: mail scanners open links, and would sign people up."""
    entry = waitlist_entry_by_token(token=token)
    if entry is not None and request.method == "POST":
        waitlist_confirm(entry=entry)
        messages.success(
            request,
            _("You're on the waitlist: we'll email you when “%(title)s” is back.")
            % {"title": entry.listing.title},
        )
        return redirect(entry.listing if entry.listing.is_public else "listings:home")
    return render(
        request,
        "listings/waitlist_confirm.html",
        {"entry": entry},
        status=200 if entry is not None else 404,
    )


# Mail apps' one-click unsubscribe (RFC 8058) POSTs here with no cookie: the
# unguessable token in the URL is the whole authority, so CSRF protection (which
# guards cookie-authenticated requests) has nothing to protect.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def waitlist_leave_view(request: HttpRequest, token: str) -> HttpResponse:
    """Leave a waitlist: one click on the page's button (or the mail app's
    Unsubscribe). GET only shows the button: mail scanners open every link in a
    message, and a GET that unsubscribed would drop people who never clicked."""
    entry = waitlist_entry_by_token(token=token)
    left = False
    if entry is not None and request.method == "POST":
        waitlist_leave(entry=entry)
        left = True
    return render(
        request,
        "listings/waitlist_leave.html",
        {"entry": entry, "left": left},
        status=404 if entry is None else 200,
    )


@verified_email_required
def listing_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    listing = get_object_or_404(Listing, pk=pk, seller=request.user)
    if not listing.is_editable:
        messages.error(request, _("An archived listing can't be edited."))
        return redirect("listings:listing-list")
    pending = listing_pending_changes(listing=listing)
    # The form shows what the seller last proposed, not the live version.
    form = ListingForm(
        request.POST or None, request.FILES or None, instance=listing, initial=pending
    )
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        fields["cover"] = form.cleaned_data["cover"]
        fields["remove_cover"] = form.cleaned_data["remove_cover"]
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
    """Product pages of the listings buyers can find (on sale or sold out), in
    pages of `limit` (the sitemap index lists them)."""

    changefreq = "daily"
    limit = 10_000

    def items(self) -> Any:
        return discoverable_listings().order_by("pk")

    def lastmod(self, item: Listing) -> Any:
        return item.updated_at

    def get_latest_lastmod(self) -> Any:
        """For the index: one MAX, not every listing loaded (Django's default)."""
        return self.items().aggregate(latest=Max("updated_at"))["latest"]


class CategorySitemap(Sitemap[str]):
    """Category pages that list something."""

    changefreq = "daily"

    def items(self) -> list[str]:
        return [value for value, n in category_counts().items() if n]

    def location(self, item: str) -> str:
        return reverse("listings:category", args=[category_slug(item)])


class StorefrontSitemap(Sitemap[Any]):
    changefreq = "weekly"
    limit = 10_000

    def items(self) -> Any:
        return storefront_sellers().order_by("pk")

    def location(self, item: Any) -> str:
        return reverse("listings:storefront", args=[item.pk])


ROBOTS = """User-agent: *
Disallow: /admin/
Disallow: /sell/
Disallow: /account/
Disallow: /accounts/
Disallow: /orders/
Disallow: /pay/
Disallow: /api/
Disallow: /waitlist/
Sitemap: {site}/sitemap.xml
"""


@require_GET
def robots_txt(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        ROBOTS.format(site=settings.SITE_URL), content_type="text/plain"
    )
