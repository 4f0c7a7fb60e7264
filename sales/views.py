from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from codes.exceptions import CodesError, OutOfStock
from codes.forms import ValidateForm
from codes.importing.text import mask
from codes.models import Code, CodeReveal
from codes.services.reveal import code_reveal
from codes.services.validation import code_state
from codes.views import validate_render
from distribly.currency import format_amount, quantize
from distribly.downloads import csv_response
from distribly.errors import FieldError
from distribly.http import (
    AuthenticatedRequest,
    client_ip,
    client_network,
    private_page,
    query_without,
    verified_email_required,
)
from distribly.pagination import PAGE_KEYS, keyset_page
from listings.models import Listing
from listings.selectors import listing_stock, seller_listing_choices

from .exceptions import OrderError, RefundError
from .forms import CheckoutForm, SalesFilterForm
from .models import Order, Payment
from .payments import get_provider
from .payments.base import PaymentError
from .selectors import (
    sale_code_position,
    sales_rows,
    sales_totals,
    seller_sales,
    with_earnings,
)
from .services.checkout import (
    CheckoutClient,
    checkout_rate_check,
    checkout_start,
    order_place,
)
from .services.delivery import order_resend, orders_page_viewed
from .services.payments import payment_confirm, payment_fail, payment_reconcile
from .services.refunds import order_refund, sold_code_cancel
from .vault import order_codes
from .webhooks import webhook_response

logger = logging.getLogger(__name__)


def _absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


@require_POST
def checkout(request: HttpRequest, pk: int) -> HttpResponse:
    """Buy now: reserve codes, then send the buyer to the payment page."""
    listing = get_object_or_404(Listing, pk=pk)
    available = (
        listing_stock(listing=listing) if listing.status == Listing.Status.ACTIVE else 0
    )
    form = CheckoutForm(
        request.POST, max_quantity=min(listing.max_per_order, available)
    )
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(
                    request,
                    f"{form.fields[field].label if field in form.fields else ''}: {error}",
                )
        return redirect(listing)
    if not request.session.session_key:
        request.session.save()  # a key to count this browser's unpaid checkouts by
    client = CheckoutClient(
        network=client_network(client_ip(request)),
        session_key=request.session.session_key or "",
    )
    try:
        checkout_rate_check(client=client)
        placed = order_place(
            listing_id=listing.pk,
            quantity=form.cleaned_data["quantity"],
            email=form.cleaned_data["email"],
            buyer=request.user,
            language=translation.get_language() or "en",
            client=client,
        )
    except OutOfStock:
        messages.error(
            request, _("Sorry, this item is sold out: no payment was taken.")
        )
        return redirect(listing)
    except OrderError as e:
        messages.error(request, str(e))
        return redirect(listing)
    order_url = _absolute(request, placed.order.get_absolute_url())
    try:
        url = checkout_start(
            placed=placed,
            success_url=order_url + "?paid=1",
            cancel_url=_absolute(request, listing.get_absolute_url()),
        )
    except PaymentError as e:
        messages.error(
            request,
            _("We couldn't start the payment: %(reason)s No money was taken.")
            % {"reason": e},
        )
        return redirect(listing)
    return redirect(url)


def dev_pay(request: HttpRequest, ref: str) -> HttpResponse:
    """The `dev` provider's payment page: Pay or Decline, no money moves."""
    payment = get_object_or_404(
        Payment.objects.select_related("order__listing"),
        provider="dev",
        provider_ref=ref,
    )
    order = payment.order
    if request.method == "POST":
        if request.POST.get("decision") == "pay":
            payment_confirm(payment_id=payment.pk)
            return redirect(order)
        payment_fail(payment_id=payment.pk)
        messages.info(
            request,
            _("Payment declined: nothing was charged and your codes were released."),
        )
        return redirect(order.listing)
    return render(request, "sales/dev_pay.html", {"payment": payment, "order": order})


def order_detail(request: HttpRequest, token: str) -> HttpResponse:
    """The buyer's order page, reached by the unguessable link in their email."""
    order = get_object_or_404(
        Order.objects.select_related("listing__seller", "seller"), token=token
    )
    if order.status == Order.Status.PENDING and request.GET.get("paid"):
        # Back from the provider before its webhook: ask it directly.
        payment = order.payments.filter(status=Payment.Status.PENDING).first()
        if payment is not None:
            with contextlib.suppress(PaymentError):
                payment_reconcile(payment=payment)
            order.refresh_from_db()
    codes = order_codes(order) if order.has_codes else []
    if codes:
        orders_page_viewed(order_ids=[order.pk], ip=client_ip(request))
    response = render(
        request, "sales/order_detail.html", {"order": order, "codes": codes}
    )
    return private_page(response)


@require_POST
def order_resend_view(request: HttpRequest, token: str) -> HttpResponse:
    order = get_object_or_404(Order, token=token)
    try:
        order_resend(order=order)
    except OrderError as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("We're sending the email to %(email)s again.") % {"email": order.email},
        )
    return redirect(order)


# --- Seller: Sales (under Earnings) ---------------------------------------------------


@dataclass(frozen=True)
class Revealed:
    """The one code value shown after Show code."""

    code_id: int
    order_id: int | None
    value: str


def _sales_filter(request: AuthenticatedRequest) -> SalesFilterForm:
    return SalesFilterForm(
        request.GET or None, listings=seller_listing_choices(seller_id=request.user.pk)
    )


def _sales_url(request: HttpRequest) -> str:
    """Back to Sales as the seller left it (filters and page)."""
    query = query_without(request, "code")
    return reverse("sales:sales-list") + (f"?{query}" if query else "")


SALES_PAGE_SIZE = 25


def _sales_context(
    request: AuthenticatedRequest, revealed: Revealed | None = None
) -> dict[str, object]:
    form = _sales_filter(request)
    filters = form.filters()
    qs = seller_sales(seller_id=request.user.pk, filters=filters)
    page = keyset_page(qs, request, SALES_PAGE_SIZE)
    return {
        "form": form,
        "page": page,
        "rows": sales_rows(page.object_list),
        "totals": sales_totals(seller_id=request.user.pk, filters=filters),
        "revealed": revealed,
        "extra_query": query_without(request, *PAGE_KEYS),
        # Actions come back to this page, filters and page number included.
        "page_query": query_without(request),
    }


@verified_email_required
def sales_list(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "sales/sales_list.html", _sales_context(request))


def _wants_fragment(request: HttpRequest) -> bool:
    """sales.js asks for the revealed code alone, to show it in place."""
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@require_POST
@verified_email_required
def sales_show_code(request: AuthenticatedRequest, code_id: int) -> HttpResponse:
    """Show code: a POST that reveals one sold code and records who saw it.

    Without JavaScript it answers with the Sales page showing the code; asked by
    sales.js (X-Requested-With), with just the code and its Copy button. Either
    way the reveal is audited, and the code travels only in the response body.
    """
    code = get_object_or_404(
        Code, pk=code_id, seller=request.user, order_id__isnull=False
    )
    if code.status == Code.Status.RESERVED:
        raise Http404
    value = code_reveal(
        code=code,
        user=request.user,
        ip=client_ip(request),
        kind=CodeReveal.Kind.SHOW_CODE,
    )
    if _wants_fragment(request):
        order = get_object_or_404(
            Order.objects.only("reference"), pk=code.order_id, seller=request.user
        )
        response = render(
            request,
            "sales/_revealed_code.html",
            {
                "code_id": code.pk,
                "value": value,
                "position": sale_code_position(code=code),
                "reference": order.reference,
            },
        )
    else:
        revealed = Revealed(code_id=code.pk, order_id=code.order_id, value=value)
        response = render(
            request, "sales/sales_list.html", _sales_context(request, revealed)
        )
    patch_vary_headers(response, ["X-Requested-With"])
    return private_page(response)


def _code_from(order: Order, value: str | None, seller: object) -> Code | None:
    """The order's code named by a form or link (None: the whole order)."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise Http404
    return get_object_or_404(Code, pk=int(value), order_id=order.pk, seller=seller)


@require_http_methods(["GET", "POST"])
@verified_email_required
def sales_refund(request: AuthenticatedRequest, reference: str) -> HttpResponse:
    """Refund an order, or one of its codes (`code`). GET asks to confirm; POST refunds."""
    order = get_object_or_404(
        Order.objects.select_related("listing"),
        reference=reference,
        seller=request.user,
    )
    if request.method == "GET":
        code = _code_from(order, request.GET.get("code"), request.user)
        refundable = (
            code.status in Code.SOLD_STATUSES
            if code is not None
            else order.is_refundable
        )
        return private_page(
            render(
                request,
                "sales/refund_confirm.html",
                {
                    "order": order,
                    "code": code,
                    "position": sale_code_position(code=code) if code else None,
                    "codes_to_cancel": Code.objects.filter(
                        order_id=order.pk, status__in=Code.SOLD_STATUSES
                    ).count(),
                    "remaining": format_amount(
                        order.amount - order.refunded_amount, order.currency
                    ),
                    "refundable": refundable,
                    "back_query": query_without(request, "code"),
                    "back_url": _sales_url(request),
                },
            )
        )
    code = _code_from(order, request.POST.get("code"), request.user)
    try:
        refund = order_refund(
            order=order,
            code_ids=[code.pk] if code is not None else None,
            by=request.user,
            reason=request.POST.get("reason", ""),
        )
    except RefundError as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _(
                "Refunded %(amount)s %(currency)s for order #%(number)s. "
                "The buyer is told, and we emailed you the cancelled code(s)."
            )
            % {
                "amount": refund.amount,
                "currency": order.currency,
                "number": order.reference,
            },
        )
    return redirect(_sales_url(request))


@verified_email_required
def sales_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    qs = seller_sales(
        seller_id=request.user.pk, filters=_sales_filter(request).filters()
    )
    rows = (
        (
            o.reference,
            o.created_at.isoformat(),
            o.email,
            o.listing.title,
            o.quantity,
            o.amount,
            o.currency,
            o.refunded_amount,
            quantize(o.fee, o.currency),  # type: ignore[attr-defined]  # with_earnings
            quantize(o.net, o.currency),  # type: ignore[attr-defined]
            o.get_status_display(),
        )
        for o in with_earnings(qs).iterator(chunk_size=1000)
    )
    header = [
        "order",
        "date",
        "buyer email",
        "item",
        "quantity",
        "amount",
        "currency",
        "refunded",
        "platform fee",
        "net to you",
        "status",
    ]
    return csv_response("distribly-sales.csv", header, rows)


# --- Stripe webhook ----------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Payment events (checkout, refunds, disputes): see `webhook_response`."""
    provider = get_provider("stripe")
    return webhook_response(request, provider, provider.parse_webhook)


def _code_cancel_confirm(
    request: AuthenticatedRequest, code: Code, error: str = ""
) -> HttpResponse:
    order = get_object_or_404(
        Order.objects.only("reference", "email"),
        pk=code.order_id or 0,
        seller=request.user,
    )
    response = render(
        request,
        "sales/code_cancel_confirm.html",
        {
            "code": code,
            "order": order,
            "position": sale_code_position(code=code),
            "masked": mask(code.reveal()),
            "cancellable": code.status in Code.SOLD_STATUSES,
            "refund": request.POST.get("refund", "yes"),
            "reason": request.POST.get("reason", ""),
            "error": error,
            "back_query": query_without(request),
            "back_url": _sales_url(request),
        },
        status=400 if error else 200,
    )
    return private_page(response)


@require_http_methods(["GET", "POST"])
@verified_email_required
def code_cancel(request: AuthenticatedRequest, code_id: int) -> HttpResponse:
    """Cancel this code: refund the buyer for it, or tell them why not.

    GET (from Sales) asks to confirm, showing whose code it is. POST cancels: from
    Validate a code it answers with that page, from Sales (`from=sales`) it goes
    back to Sales.
    """
    code = get_object_or_404(
        Code.objects.select_related("listing"), pk=code_id, seller=request.user
    )
    if request.method == "GET":
        if code.order_id is None:
            raise Http404  # never sold: nothing to confirm with a buyer
        return _code_cancel_confirm(request, code)
    from_sales = request.POST.get("from") == "sales"
    refund = request.POST.get("refund") == "yes"
    try:
        done = sold_code_cancel(
            code=code,
            by=request.user,
            refund=refund,
            reason=request.POST.get("reason", ""),
        )
    except FieldError as e:
        if from_sales and code.order_id is not None:
            return _code_cancel_confirm(request, code, error=e.message)
        messages.error(request, e.message)
    except (CodesError, RefundError) as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("The code is cancelled and the buyer is refunded for it.")
            if done.refund
            else _("The code is cancelled: it can't be used or sold again."),
        )
    if from_sales:
        return redirect(_sales_url(request))
    code.refresh_from_db()
    return validate_render(request, ValidateForm(), code_state(code))
