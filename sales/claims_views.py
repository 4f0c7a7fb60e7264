"""After the sale: a buyer reports a code that does not work (on their order page),
the seller answers under Earnings → Problems reported; cancelled codes the seller
confirms they disabled."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from codes.importing.text import mask
from codes.models import Code
from codes.services.disabling import code_mark_disabled
from distribly.errors import FieldError, add_field_error
from distribly.http import (
    AuthenticatedRequest,
    private_page,
    verified_email_required,
)

from .exceptions import ClaimError, RefundError
from .forms import ClaimEscalateForm, ClaimForm, ClaimRejectForm
from .models import Claim, Order
from .selectors import (
    claim_can_open,
    claim_evidence,
    claim_window_end,
    seller_claims,
)
from .services.claims import (
    claim_escalate,
    claim_open,
    claim_refund,
    claim_reject,
    claim_replace,
)

# --- Buyer ------------------------------------------------------------------------------


def claim_report(request: HttpRequest, token: str, code_id: int) -> HttpResponse:
    """Report a problem with one delivered code of the order (the order's link is
    the buyer's key, as for the order page)."""
    order = get_object_or_404(
        Order.objects.select_related("listing__seller"), token=token
    )
    code = get_object_or_404(Code, pk=code_id, order_id=order.pk)
    if not claim_can_open(order=order, code=code) or hasattr(code, "claim"):
        messages.error(
            request, _("A problem with this code can't be reported any more.")
        )
        return redirect(order)
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            claim_open(
                order=order,
                code_id=code.pk,
                reason=form.cleaned_data["reason"],
                message=form.cleaned_data["message"],
            )
        except FieldError as e:
            add_field_error(form, e)
        except ClaimError as e:
            messages.error(request, str(e))
            return redirect(order)
        else:
            messages.success(
                request,
                _(
                    "Thank you: the seller has been told and has %(hours)d hours to "
                    "answer. If they don't, you are refunded for the code automatically."
                )
                % {"hours": settings.CLAIM_RESPONSE_HOURS},
            )
            return redirect(order)
    return private_page(
        render(
            request,
            "sales/claim_report.html",
            {
                "order": order,
                "masked": mask(code.reveal()),
                "form": form,
                "window_end": claim_window_end(order=order, code=code),
                "hours": settings.CLAIM_RESPONSE_HOURS,
            },
        )
    )


@require_POST
def claim_escalate_view(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    order = get_object_or_404(Order, token=token)
    claim = get_object_or_404(Claim, pk=pk, order=order)
    form = ClaimEscalateForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Tell us why the seller's answer does not solve the problem.")
        )
        return redirect(order)
    try:
        claim_escalate(claim=claim, message=form.cleaned_data["escalation_message"])
    except (ClaimError, FieldError) as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("Distribly staff will look at it and email you their decision."),
        )
    return redirect(order)


# --- Seller: Earnings → Problems reported --------------------------------------------


@verified_email_required
def claims_list(request: AuthenticatedRequest) -> HttpResponse:
    status = "open" if request.GET.get("status") == "open" else ""
    page = Paginator(
        seller_claims(seller_id=request.user.pk, status=status), 25
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "sales/claims_list.html",
        {
            "page": page,
            "status": status,
            "open_count": Claim.objects.filter(
                seller=request.user, status=Claim.Status.OPEN
            ).count(),
        },
    )


def _seller_claim(request: AuthenticatedRequest, pk: int) -> Claim:
    return get_object_or_404(
        Claim.objects.select_related("order__listing", "code", "replacement"),
        pk=pk,
        seller=request.user,
    )


def _claim_page(
    request: AuthenticatedRequest,
    claim: Claim,
    reject_form: ClaimRejectForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "sales/claim_detail.html",
        {
            "claim": claim,
            "order": claim.order,
            "evidence": claim_evidence(claim),
            "reject_form": reject_form or ClaimRejectForm(),
        },
        status=status,
    )


@verified_email_required
def claim_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _claim_page(request, _seller_claim(request, pk))


@require_POST
@verified_email_required
def claim_answer(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    """Replace, Refund or Reject (with a message) an open claim."""
    claim = _seller_claim(request, pk)
    try:
        if action == "replace":
            claim_replace(claim=claim, by=request.user)
            done = _("Replaced: the buyer has been emailed the new code.")
        elif action == "refund":
            claim_refund(claim=claim, by=request.user)
            done = _("Refunded: the code is cancelled and the buyer has been told.")
        elif action == "reject":
            form = ClaimRejectForm(request.POST)
            if not form.is_valid():
                return _claim_page(request, claim, form, status=400)
            claim_reject(
                claim=claim, by=request.user, message=form.cleaned_data["message"]
            )
            done = _("Your answer has been sent to the buyer.")
        else:
            raise Http404
    except FieldError as e:
        form = ClaimRejectForm(request.POST)
        add_field_error(form, e)
        return _claim_page(request, claim, form, status=400)
    except (ClaimError, RefundError) as e:
        messages.error(request, str(e))
    else:
        messages.success(request, done)
    return redirect("sales:claim-detail", pk=claim.pk)


# --- Seller: cancelled codes disabled on their system ----------------------------------


@verified_email_required
def code_disabled(request: AuthenticatedRequest, code_id: int) -> HttpResponse:
    """I've disabled this code: the email's link opens this page; its button records it."""
    code = get_object_or_404(
        Code.objects.select_related("listing"),
        pk=code_id,
        seller=request.user,
        status=Code.Status.CANCELLED,
        order_id__isnull=False,
    )
    if request.method == "POST":
        code_mark_disabled(seller_id=request.user.pk, code_id=code.pk)
        messages.success(request, _("Thank you: the code is marked as disabled."))
        return redirect("sales:sales-list")
    order = get_object_or_404(Order.objects.only("reference"), pk=code.order_id or 0)
    return render(
        request,
        "sales/code_disabled.html",
        {"code": code, "order": order, "masked": mask(code.reveal())},
    )
