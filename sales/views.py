from __future__ import annotations

import contextlib
import logging

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError, OperationalError, transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from codes.exceptions import OutOfStock
from codes.models import Code, CodeReveal
from codes.services import code_reveal
from listings.downloads import csv_response
from listings.models import Listing
from listings.selectors import listing_stock

from .exceptions import OrderError, RefundError
from .forms import CheckoutForm, SalesFilterForm
from .models import Order, Payment, WebhookEvent
from .payments import get_provider
from .payments.base import InvalidWebhook, PaymentError
from .selectors import codes_by_order, sales_totals, seller_sales
from .services import (
    checkout_start,
    order_place,
    order_refund,
    order_resend,
    orders_for_buyer,
    payment_confirm,
    payment_expire,
    payment_fail,
    payment_reconcile,
    payment_refunded_externally,
)

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
    try:
        placed = order_place(
            listing_id=listing.pk,
            quantity=form.cleaned_data["quantity"],
            email=form.cleaned_data["email"],
            buyer=request.user,
            language=translation.get_language() or "en",
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
        Order.objects.select_related("listing__seller"), token=token
    )
    if order.status == Order.Status.PENDING and request.GET.get("paid"):
        # Back from the provider before its webhook: ask it directly.
        payment = order.payments.filter(status=Payment.Status.PENDING).first()
        if payment is not None:
            with contextlib.suppress(PaymentError):
                payment_reconcile(payment=payment)
            order.refresh_from_db()
    codes = []
    if order.has_codes:
        codes = [
            (code, code.reveal())
            for code in Code.objects.filter(order_id=order.pk)
            .exclude(status=Code.Status.RESERVED)
            .order_by("id")
        ]
    response = render(
        request, "sales/order_detail.html", {"order": order, "codes": codes}
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = (
        "no-referrer"  # the token must not leak to linked sites
    )
    return response


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


@login_required
def purchases(request: HttpRequest) -> HttpResponse:
    page = Paginator(orders_for_buyer(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "sales/purchases.html", {"page": page})


# --- Seller: Sales (under Earnings) ---------------------------------------------------


def _sales_context(
    request: HttpRequest, revealed: dict[int, str] | None = None
) -> dict[str, object]:
    user = request.user
    listings = list(
        Listing.objects.filter(seller=user).order_by("title").values_list("pk", "title")
    )
    form = SalesFilterForm(request.GET or None, listings=listings)
    qs = form.apply(seller_sales(seller_id=user.pk))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    orders = list(page.object_list)
    codes = codes_by_order([o.pk for o in orders])
    for order in orders:
        order.code_list = codes.get(order.pk, [])  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "orders": orders,
        "totals": sales_totals(qs),
        "revealed": revealed or {},
        "extra_query": query.urlencode(),
    }


@verified_email_required
def sales_list(request: HttpRequest) -> HttpResponse:
    return render(request, "sales/sales_list.html", _sales_context(request))


@require_POST
@verified_email_required
def sales_show_code(request: HttpRequest, code_id: int) -> HttpResponse:
    """Show code: a POST that reveals one sold code inline and records who saw it."""
    code = get_object_or_404(
        Code, pk=code_id, seller=request.user, order_id__isnull=False
    )
    if code.status == Code.Status.RESERVED:
        raise Http404
    value = code_reveal(
        code=code,
        user=request.user,
        ip=request.META.get("REMOTE_ADDR"),
        kind=CodeReveal.Kind.SHOW_CODE,
    )
    response = render(
        request,
        "sales/sales_list.html",
        _sales_context(request, revealed={code.pk: value}),
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@verified_email_required
def sales_refund(request: HttpRequest, order_id: int) -> HttpResponse:
    order = get_object_or_404(Order, pk=order_id, seller=request.user)
    code_ids = None
    if request.POST.get("code"):
        code = get_object_or_404(
            Code, pk=request.POST["code"], order_id=order.pk, seller=request.user
        )
        code_ids = [code.pk]
    try:
        refund = order_refund(
            order=order,
            code_ids=code_ids,
            by=request.user,
            reason=request.POST.get("reason", ""),
        )
    except RefundError as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _(
                "Refunded %(amount)s %(currency)s for order #%(number)d. "
                "The buyer is told, and we emailed you the cancelled code(s)."
            )
            % {"amount": refund.amount, "currency": order.currency, "number": order.pk},
        )
    return redirect(
        reverse("sales:sales-list")
        + ("?" + request.GET.urlencode() if request.GET else "")
    )


@verified_email_required
def sales_export(request: HttpRequest) -> StreamingHttpResponse:
    listings = list(
        Listing.objects.filter(seller=request.user).values_list("pk", "title")
    )
    form = SalesFilterForm(request.GET or None, listings=listings)
    qs = form.apply(seller_sales(seller_id=request.user.pk))
    rows = (
        (
            o.pk,
            o.created_at.isoformat(),
            o.email,
            o.listing.title,
            o.quantity,
            o.amount,
            o.currency,
            o.refunded_amount,
            o.get_status_display(),
        )
        for o in qs.iterator(chunk_size=1000)
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
        "status",
    ]
    return csv_response("distribly-sales.csv", header, rows)


# --- Stripe webhook ----------------------------------------------------------------------

CONFIRMING = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verified, deduplicated, re-fetched, then handed to the same services as the dev page.

    The event id is recorded under a unique constraint in the same transaction as
    its effect, so a replay (sequential or concurrent) answers 200 and does nothing.
    Transient failures answer 503 so that Stripe retries.
    """
    provider = get_provider("stripe")
    try:
        event = provider.parse_webhook(request)
    except InvalidWebhook as e:
        logger.warning("stripe webhook refused: %s", e)
        return HttpResponseBadRequest("invalid signature")
    try:
        if event.type.startswith("checkout.session."):
            payment = Payment.objects.filter(
                provider="stripe", provider_ref=event.object_id
            ).first()
            if payment is None:
                _record(event.event_id, event.type)
                return HttpResponse(status=200)
            status = provider.fetch_status(
                payment=payment
            )  # the event is only a trigger
            with transaction.atomic():
                WebhookEvent.objects.create(
                    provider="stripe", event_id=event.event_id, type=event.type
                )
                if event.type in CONFIRMING and status.state == "paid":
                    payment_confirm(
                        payment_id=payment.pk,
                        provider_payment_id=status.provider_payment_id,
                    )
                elif event.type == "checkout.session.async_payment_failed":
                    payment_fail(payment_id=payment.pk)
                elif (
                    event.type == "checkout.session.expired"
                    and status.state == "expired"
                ):
                    payment_expire(payment_id=payment.pk)
        elif event.type == "charge.refunded":
            with transaction.atomic():
                WebhookEvent.objects.create(
                    provider="stripe", event_id=event.event_id, type=event.type
                )
                payment_refunded_externally(
                    provider_name="stripe", object_id=event.object_id
                )
        else:
            _record(event.event_id, event.type)
    except IntegrityError:
        return HttpResponse(status=200)  # already processed: a replay
    except (PaymentError, OperationalError, RefundError) as e:
        logger.warning(
            "stripe webhook %s: transient failure %s", event.event_id, type(e).__name__
        )
        return HttpResponse(status=503)
    return HttpResponse(status=200)


def _record(event_id: str, type_: str) -> None:
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                provider="stripe", event_id=event_id, type=type_
            )
    except IntegrityError:
        pass
