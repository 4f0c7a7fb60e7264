from __future__ import annotations

import time

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from distribly.downloads import csv_response
from distribly.errors import add_field_error
from distribly.http import (
    AuthenticatedRequest,
    client_ip,
    verified_email_required,
)
from listings.forms import ListingForm
from listings.images import cover_delete
from listings.models import Listing
from listings.services import listing_create

from .exceptions import (
    CodeAlreadyRedeemed,
    CodeBusy,
    CodeCancelled,
    CodeNotFound,
    CodesError,
    WebhookURLError,
)
from .forms import CodesForm, ValidateForm, WebhookForm
from .models import Code, CodeBatch, WebhookEndpoint
from .selectors import buyer_email_for
from .services.batches import (
    batch_create_generated,
    batch_create_upload,
    batch_withdraw_unsold,
)
from .services.reveal import batch_codes_export, batch_issues_export
from .services.validation import (
    CodeState,
    code_redeem_by_id,
    code_state,
    code_verify,
)
from .uploads import upload_exceeded
from .webhooks.delivery import endpoint_disable, endpoint_set, webhook_send_test


def _own_listing(request: HttpRequest, pk: int) -> Listing:
    return get_object_or_404(Listing, pk=pk, seller=request.user)


def _own_batch(request: HttpRequest, pk: int) -> CodeBatch:
    return get_object_or_404(
        CodeBatch.objects.select_related("listing"), pk=pk, seller=request.user
    )


def _create_batch(listing: Listing, form: CodesForm) -> CodeBatch:
    if form.cleaned_data["source"] == CodesForm.SOURCE_GENERATE:
        return batch_create_generated(listing=listing, options=form.generator_options())
    upload = form.cleaned_data["file"]
    return batch_create_upload(
        listing=listing,
        file=upload,
        filename=upload.name,
        has_header=form.cleaned_data["has_header"],
    )


def _import_note(batch: CodeBatch) -> str:
    """ "Importing" only while it is: with eager tasks or a quick worker the import
    is already done (or failed) when the seller lands on the batch page, which then
    says how it went."""
    batch.refresh_from_db(fields=["status"])
    if batch.status in (CodeBatch.Status.RECEIVED, CodeBatch.Status.IMPORTING):
        return _("We're importing your codes now.")
    return ""


def _codes_form(request: HttpRequest, *, new_listing: bool = False) -> CodesForm:
    return CodesForm(
        request.POST or None,
        request.FILES or None,
        upload_too_large=upload_exceeded(request),
        new_listing=new_listing,
    )


@verified_email_required
def unique_codes_create(request: AuthenticatedRequest) -> HttpResponse:
    """My account → Add an item to sell → Unique codes."""
    listing_form = ListingForm(request.POST or None, request.FILES or None)
    codes_form = _codes_form(request, new_listing=True)
    if request.method == "POST" and listing_form.is_valid() and codes_form.is_valid():
        details = dict(listing_form.cleaned_data)
        details.pop("remove_cover")  # nothing to remove on a new listing
        listing = None
        try:
            with transaction.atomic():
                listing = listing_create(
                    seller=request.user,
                    codes_case_insensitive=codes_form.cleaned_data[
                        "codes_case_insensitive"
                    ],
                    **details,
                )
                batch = _create_batch(listing, codes_form)
        except Exception as e:
            # The listing was rolled back: so are its cover files.
            if listing is not None:
                cover_delete(listing.cover_card.name, listing.cover_share.name)
            if not isinstance(e, CodesError):
                raise
            codes_form.add_error(None, str(e))
        else:
            submitted = _("“%(title)s” is submitted for review.") % {
                "title": listing.title
            }
            messages.success(request, f"{submitted} {_import_note(batch)}".strip())
            return redirect(batch)
    return render(
        request,
        "codes/unique_codes_create.html",
        {"listing_form": listing_form, "codes_form": codes_form},
    )


@verified_email_required
def batch_add(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Add codes to an existing listing: a new batch, uploaded or generated."""
    listing = _own_listing(request, pk)
    if listing.status == Listing.Status.ARCHIVED:
        messages.error(
            request, _("This listing is archived: codes can't be added to it.")
        )
        return redirect("listings:listing-list")
    form = _codes_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            batch = _create_batch(listing, form)
        except CodesError as e:
            form.add_error(None, str(e))
        else:
            messages.success(
                request,
                _import_note(batch)
                or _("Your file was received: the report is below."),
            )
            return redirect(batch)
    return render(
        request, "codes/batch_add.html", {"listing": listing, "codes_form": form}
    )


@verified_email_required
def listing_batches(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    listing = _own_listing(request, pk)
    page = Paginator(listing.batches.order_by("-created_at"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request, "codes/listing_batches.html", {"listing": listing, "page": page}
    )


@verified_email_required
def batch_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    batch = _own_batch(request, pk)
    issues = Paginator(
        batch.issues.only("line", "kind", "reason").order_by("line"), 100
    )
    page = issues.get_page(request.GET.get("page"))
    return render(request, "codes/batch_detail.html", {"batch": batch, "issues": page})


@verified_email_required
def batch_progress(request: AuthenticatedRequest, pk: int) -> JsonResponse:
    batch = _own_batch(request, pk)
    return JsonResponse(
        {
            "status": batch.status,
            "finished": batch.is_settled,
            "phase": batch.import_phase,
            # After the import, a big approval or withdrawal runs with its own progress.
            "percent": batch.action_percent
            if batch.is_finished
            else batch.progress_percent,
            "lines_processed": batch.lines_processed,
            "progress_text": batch.action_text
            if batch.is_finished
            else batch.progress_text,
            "accepted": batch.accepted,
            "duplicates": batch.duplicates,
            "rejected": batch.rejected,
        }
    )


@verified_email_required
def batch_issues_download(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    batch = _own_batch(request, pk)
    rows = batch_issues_export(batch=batch, user=request.user, ip=client_ip(request))
    return csv_response(
        f"batch-{batch.pk}-rejected-lines.csv", ["line", "reason", "text"], rows
    )


@verified_email_required
def batch_codes_download(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    batch = _own_batch(request, pk)
    try:
        rows = batch_codes_export(batch=batch, user=request.user, ip=client_ip(request))
    except CodesError as e:
        messages.error(request, str(e))
        return redirect(batch)
    # Generated codes never start with a formula character, so values stay exact.
    return csv_response(
        f"batch-{batch.pk}-codes.csv",
        ["line", "code", "status"],
        rows,
        neutralise_cells=False,
    )


@require_POST
@verified_email_required
def batch_withdraw(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    batch = _own_batch(request, pk)
    try:
        count = batch_withdraw_unsold(batch=batch)
    except CodesError as e:
        messages.error(request, str(e))
    else:
        if count is None:
            messages.success(
                request,
                _(
                    "Taking the unsold codes of batch #%(batch)d off sale: this page "
                    "shows how far it is."
                )
                % {"batch": batch.pk},
            )
            return redirect(batch)
        messages.success(
            request,
            ngettext(
                "Withdrew %(count)s unsold code of batch #%(batch)d.",
                "Withdrew %(count)s unsold codes of batch #%(batch)d.",
                count,
            )
            % {"count": f"{count:,}", "batch": batch.pk},
        )
    return redirect(batch)


# --- Validate a code ---------------------------------------------------------------------

VALIDATE_FAILURE_LIMIT = 30  # failed look-ups per seller per 10 minutes
VALIDATE_WINDOW = 600


def _validate_failures_key(user_id: int) -> str:
    return f"validate:fail:{user_id}:{int(time.time()) // VALIDATE_WINDOW}"


def validate_render(
    request: HttpRequest,
    form: ValidateForm,
    state: CodeState | None = None,
    status: int = 200,
) -> HttpResponse:
    """The Validate a code page (also after an action on the code shown)."""
    buyer = buyer_email_for(state.code) if state is not None else ""
    response = render(
        request,
        "codes/validate.html",
        {"form": form, "state": state, "buyer_email": buyer},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@verified_email_required
def validate(request: AuthenticatedRequest) -> HttpResponse:
    """Validate a code: the seller's record that stops a code being accepted twice."""
    form = ValidateForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return validate_render(request, form)
    failures = _validate_failures_key(request.user.pk)
    if (cache.get(failures) or 0) >= VALIDATE_FAILURE_LIMIT:
        form.add_error(
            "code",
            _(
                "Too many codes not found in the last few minutes. Please wait ten minutes and try again."
            ),
        )
        return validate_render(request, form, status=429)
    try:
        state = code_verify(seller_id=request.user.pk, value=form.cleaned_data["code"])
    except CodeNotFound:
        cache.add(failures, 0, timeout=VALIDATE_WINDOW)
        cache.incr(failures)
        form.add_error(
            "code",
            _("We don't know this code: it is not one of yours. Check it for typos."),
        )
        return validate_render(request, form)
    return validate_render(request, ValidateForm(), state)


@require_POST
@verified_email_required
def validate_redeem(request: AuthenticatedRequest, code_id: int) -> HttpResponse:
    try:
        state = code_redeem_by_id(
            seller_id=request.user.pk,
            code_id=code_id,
            account=request.POST.get("account", ""),
        )
    except CodeNotFound as e:
        raise Http404 from e
    except (CodeAlreadyRedeemed, CodeCancelled, CodeBusy) as e:
        messages.error(request, str(e))
        state = code_state(
            get_object_or_404(
                Code.objects.select_related("listing"), pk=code_id, seller=request.user
            )
        )
    else:
        messages.success(request, _("Marked as redeemed."))
    return validate_render(request, ValidateForm(), state)


# --- Webhooks -------------------------------------------------------------------------------


@verified_email_required
def webhooks_view(request: AuthenticatedRequest) -> HttpResponse:
    endpoint = WebhookEndpoint.objects.filter(seller=request.user).first()
    form = WebhookForm(
        request.POST or None, initial={"url": endpoint.url if endpoint else ""}
    )
    if request.method == "POST" and form.is_valid():
        try:
            endpoint_set(seller=request.user, url=form.cleaned_data["url"])
        except WebhookURLError as e:
            add_field_error(form, e)
        else:
            messages.success(request, _("Webhook endpoint saved."))
            return redirect("codes:webhooks")
    return _webhooks_page(request, form, endpoint)


@require_POST
@verified_email_required
def webhook_secret_show(request: AuthenticatedRequest) -> HttpResponse:
    """Show the signing secret: on request only, by POST (never in a URL or history)."""
    endpoint = get_object_or_404(WebhookEndpoint, seller=request.user)
    form = WebhookForm(initial={"url": endpoint.url})
    return _webhooks_page(request, form, endpoint, show_secret=True)


def _webhooks_page(
    request: AuthenticatedRequest,
    form: WebhookForm,
    endpoint: WebhookEndpoint | None,
    *,
    show_secret: bool = False,
) -> HttpResponse:
    deliveries = endpoint.deliveries.all()[:50] if endpoint else []
    response = render(
        request,
        "codes/webhooks.html",
        {
            "form": form,
            "endpoint": endpoint,
            "deliveries": deliveries,
            "show_secret": show_secret,
        },
    )
    response["Cache-Control"] = "no-store"  # the page may hold the signing secret
    return response


@require_POST
@verified_email_required
def webhook_test_view(request: AuthenticatedRequest) -> HttpResponse:
    try:
        webhook_send_test(seller=request.user)
    except CodesError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("Test event sent; see the delivery log below."))
    return redirect("codes:webhooks")


@require_POST
@verified_email_required
def webhook_disable_view(request: AuthenticatedRequest) -> HttpResponse:
    endpoint_disable(seller=request.user)
    messages.success(request, _("Webhooks are off."))
    return redirect("codes:webhooks")
