"""HTTP API v1 (django-ninja): OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs
(Swagger UI served from our own static files).

The shape is fixed by DESIGN.md ("Stable interfaces"). Codes travel only in
request bodies. Every error is an `ApiError`, answered `{"error": {"code",
"message"}}`: raised before an endpoint runs (key, scope, rate limit, request
validation) it goes through one exception handler; found inside an endpoint it is
returned, so the X-RateLimit-* headers the guard set stay on the answer.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from ninja import NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from codes.exceptions import (
    CodeAlreadyRedeemed,
    CodeBusy,
    CodeCancelled,
    CodeNotFound,
    CodesError,
)
from codes.models import BatchIssue, CodeBatch
from codes.services.batches import batch_create_from_values, batch_create_upload
from codes.services.validation import (
    CodeState,
    code_lookup,
    code_redeem,
    code_state,
    code_verify,
)
from codes.uploads import upload_exceeded
from distribly.errors import FieldError
from listings.models import Listing
from listings.selectors import seller_listings
from sales.exceptions import RefundError
from sales.services.refunds import sold_code_cancel

from . import ratelimit
from .errors import ApiError
from .models import ApiKey
from .schemas import (
    MAX_JSON_CODES,
    BatchCreated,
    BatchOut,
    CodeIn,
    CodeOut,
    Error,
    ListingOut,
    NotValid,
    RedeemIn,
    RevokeIn,
)
from .services import api_key_authenticate


class KeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return api_key_authenticate(token)


api = NinjaAPI(
    title="Distribly API",
    version="1",
    description=(
        "Verify, redeem and revoke your unique codes from your own site, list your items and "
        "upload codes. Authenticate with `Authorization: Bearer <key>` (create keys under "
        "*My account → API keys*). Codes travel only in request bodies. Limits per key: "
        "API_RATE_LIMIT calls a minute (600 by default) and API_FAILED_LOOKUP_LIMIT failed "
        "look-ups a minute (60); over a limit the answer is 429 with Retry-After. A key with "
        "API_SUSPEND_AFTER (1000) failed look-ups in a row is suspended and you are emailed."
    ),
    auth=KeyAuth(),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)

# Every endpoint can answer these: bad request, no/invalid key, suspended key or
# missing scope, rate limited.
COMMON_ERRORS = {400: Error, 401: Error, 403: Error, 429: Error}
NO_KEY = "Send a valid API key: Authorization: Bearer <key>."
HTTP_ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


# --- errors: one type, one handler -------------------------------------------------------


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = api.create_response(request, exc.body(), status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for item in exc.errors[:5]:
        where = ".".join(
            str(p)
            for p in item.get("loc", [])
            if p not in ("body", "payload", "query", "path")
        )
        problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    message = "; ".join(problems) or "The request body is not valid."
    return on_api_error(request, ApiError(400, "invalid_request", message))


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return on_api_error(request, ApiError(401, "unauthorized", NO_KEY))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = HTTP_ERROR_CODES.get(exc.status_code, "error")
    return on_api_error(request, ApiError(exc.status_code, code, str(exc)))


def refusal(exc: CodesError | FieldError) -> ApiError:
    """The API's answer to a domain error raised by a service."""
    if isinstance(exc, CodeNotFound):
        return ApiError(404, "not_found", "No such code.")
    if isinstance(exc, FieldError):
        return ApiError(400, "invalid_request", f"{exc.field}: {exc.message}")
    if isinstance(exc, CodeAlreadyRedeemed):
        when = (
            exc.redeemed_at.isoformat() if isinstance(exc.redeemed_at, datetime) else ""
        )
        return ApiError(
            409, "already_redeemed", f"Redeemed at {when} by {exc.redeemed_by}."
        )
    if isinstance(exc, CodeCancelled):
        return ApiError(410, "cancelled", str(exc))
    if isinstance(exc, CodeBusy):
        return ApiError(409, "in_checkout", str(exc))
    return ApiError(400, "invalid_request", str(exc))


def answer(error: ApiError) -> Status[Any]:
    """An error found inside an endpoint, answered with the guard's headers kept."""
    return Status(error.status, error.body())


# --- guard: key state, scope and rate limits -------------------------------------------


def guard(request: HttpRequest, response: HttpResponse, scope: str | None) -> ApiKey:
    key = request.auth  # type: ignore[attr-defined]  # set by ninja from KeyAuth
    if not isinstance(key, ApiKey):
        raise ApiError(401, "unauthorized", NO_KEY)
    if key.suspended_at is not None:
        raise ApiError(
            403,
            "key_suspended",
            "This key is suspended after too many failed look-ups. Create a new one.",
        )
    if scope is not None and scope not in key.scopes:
        raise ApiError(403, "missing_scope", f"This key lacks the '{scope}' scope.")
    state = ratelimit.rate_check(key)
    headers = {
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(state.reset),
    }
    if not state.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"Slow down: {state.reason}. Try again in {state.reset} s.",
            headers={"Retry-After": str(state.reset), **headers},
        )
    for name, value in headers.items():
        response[name] = value
    return key


def _code_out(state: CodeState) -> dict[str, Any]:
    return {
        "valid": state.valid,
        "status": state.status,
        "listing": {"id": state.listing_id, "title": state.listing_title},
        "sold_at": state.sold_at,
        "redeemed_at": state.redeemed_at,
        "redeemed_by": state.redeemed_by or None,
    }


def _not_found(key: ApiKey, exc: CodeNotFound) -> Status[Any]:
    """A failed look-up: counted against the key's failure budget (guessing must not pay)."""
    ratelimit.rate_record_failure(key)
    return answer(refusal(exc))


# --- endpoints ------------------------------------------------------------------------


@api.post(
    "/codes/verify",
    response={200: CodeOut, **COMMON_ERRORS, 404: NotValid},
    summary="Verify a code",
)
def verify(request: HttpRequest, response: HttpResponse, payload: CodeIn) -> Any:
    """`valid` is true only for a sold code that is not redeemed or cancelled. An
    unknown code and another seller's code both answer 404 `{"valid": false}`."""
    key = guard(request, response, "verify")
    try:
        state = code_verify(seller_id=key.seller_id, value=payload.code)
    except CodeNotFound:
        ratelimit.rate_record_failure(key)
        return Status(404, {"valid": False})
    ratelimit.rate_record_success(key)
    return Status(200, _code_out(state))


@api.post(
    "/codes/redeem",
    response={200: CodeOut, **COMMON_ERRORS, 404: Error, 409: Error, 410: Error},
    summary="Redeem a code for an account",
)
def redeem(request: HttpRequest, response: HttpResponse, payload: RedeemIn) -> Any:
    """200 on the first redemption and on a repeat by the same account; 409 if another
    account redeemed it; 410 if it was cancelled; 404 if unknown or never sold."""
    key = guard(request, response, "redeem")
    try:
        state = code_redeem(
            seller_id=key.seller_id, value=payload.code, account=payload.account
        )
    except CodeNotFound as e:
        return _not_found(key, e)
    except (CodesError, FieldError) as e:
        return answer(refusal(e))
    ratelimit.rate_record_success(key)
    return Status(200, _code_out(state))


@api.post(
    "/codes/revoke",
    response={200: CodeOut, **COMMON_ERRORS, 404: Error, 409: Error},
    summary="Revoke a code (refunding the buyer, or telling them why)",
)
def revoke(request: HttpRequest, response: HttpResponse, payload: RevokeIn) -> Any:
    """A sold or redeemed code becomes `cancelled` (never sold again); an unsold one is
    `withdrawn`. Repeating it is harmless. For a sold code, `refund: true` refunds the
    buyer for it; otherwise the buyer is emailed the `reason` (default: "revoked by
    the seller"). A refund the provider refuses answers 409 `refund_failed` and the
    code stays valid."""
    key = guard(request, response, "revoke")
    try:
        code = code_lookup(seller_id=key.seller_id, value=payload.code)
        done = sold_code_cancel(
            code=code,
            by=key.seller,
            refund=payload.refund,
            reason=payload.reason or "revoked by the seller",
        )
    except CodeNotFound as e:
        return _not_found(key, e)
    except RefundError as e:
        return answer(ApiError(409, "refund_failed", str(e)))
    except (CodesError, FieldError) as e:
        return answer(refusal(e))
    ratelimit.rate_record_success(key)
    return Status(200, _code_out(code_state(done.code)))


@api.get(
    "/listings",
    response={200: list[ListingOut], **COMMON_ERRORS},
    summary="Your listings",
)
def listings(request: HttpRequest, response: HttpResponse) -> Any:
    key = guard(request, response, None)
    return Status(
        200,
        [
            {
                "id": item.pk,
                "title": item.title,
                "status": item.status,
                "available": item.available,
                "sold": item.sold,
                "redeemed": item.redeemed,
            }
            for item in seller_listings(seller_id=key.seller_id)[:1000]
        ],
    )


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "minLength": 1,
                            "description": "A .csv file, one code per line",
                        },
                        "header": {
                            "type": "boolean",
                            "default": False,
                            "description": "The first line is a header",
                        },
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["codes"],
                    "properties": {
                        "codes": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_JSON_CODES,
                            "items": {"type": "string"},
                        }
                    },
                }
            },
        },
    }
}


@api.post(
    "/listings/{listing_id}/codes",
    response={202: BatchCreated, **COMMON_ERRORS, 404: Error},
    summary="Upload codes to a listing",
    openapi_extra=UPLOAD_BODY,
)
def upload_codes(request: HttpRequest, response: HttpResponse, listing_id: int) -> Any:
    """Send a CSV file (multipart field `file`, optional `header=true`) or a JSON body
    `{"codes": [...]}`. Every line is checked like a web upload (a line that is not a
    valid code is reported in the batch, not refused here). The batch imports in the
    background; follow it with GET /batches/{id}."""
    key = guard(request, response, "upload")
    listing = (
        Listing.objects.filter(pk=listing_id, seller_id=key.seller_id)
        .exclude(status=Listing.Status.ARCHIVED)
        .first()
    )
    if listing is None:
        return answer(ApiError(404, "not_found", "No such listing."))
    try:
        with transaction.atomic():
            if request.content_type == "multipart/form-data":
                batch = _upload_file(request, listing)
            else:
                batch = batch_create_from_values(
                    listing=listing, values=_json_codes(request)
                )
    except (CodesError, FieldError) as e:
        return answer(refusal(e))
    return Status(202, {"batch": batch.pk})


def _upload_file(request: HttpRequest, listing: Listing) -> CodeBatch:
    file = request.FILES.get("file")  # counted while it streams in (UploadLimit)
    if upload_exceeded(request):
        raise FieldError(
            "file",
            f"larger than {filesizeformat(settings.CODES_UPLOAD_MAX_BYTES)}; "
            "split it into several uploads",
        )
    if file is None:
        raise FieldError("file", "send the CSV file in the multipart field 'file'")
    if not file.size:
        raise FieldError("file", "the file is empty")
    header = str(request.POST.get("header", "false")).lower() in ("true", "1", "on")
    return batch_create_upload(
        listing=listing,
        file=file,
        filename=file.name or "upload.csv",
        has_header=header,
        source=CodeBatch.Source.API,
    )


def _json_codes(request: HttpRequest) -> list[str]:
    try:
        body = json.loads(request.body or b"null")
    except ValueError as e:
        raise FieldError(
            "body",
            "send a CSV file as multipart field 'file', or JSON {\"codes\": [...]}",
        ) from e
    codes = body.get("codes") if isinstance(body, dict) else None
    if (
        not isinstance(codes, list)
        or not codes
        or not all(isinstance(c, str) for c in codes)
    ):
        raise FieldError("codes", "a non-empty list of strings")
    if len(codes) > MAX_JSON_CODES:
        raise FieldError(
            "codes",
            f"at most {MAX_JSON_CODES:,} per request; upload a CSV file for more",
        )
    return codes


@api.get(
    "/batches/{batch_id}",
    response={200: BatchOut, **COMMON_ERRORS, 404: Error},
    summary="A batch's import status and report",
)
def batch_status(request: HttpRequest, response: HttpResponse, batch_id: int) -> Any:
    key = guard(request, response, "upload")
    batch = CodeBatch.objects.filter(pk=batch_id, seller_id=key.seller_id).first()
    if batch is None:
        return answer(ApiError(404, "not_found", "No such batch."))
    issues = list(
        BatchIssue.objects.filter(batch=batch)
        .order_by("line")
        .values_list("line", "kind", "reason")[:1000]
    )
    return Status(
        200,
        {
            "id": batch.pk,
            "listing": batch.listing_id,
            "status": batch.status,
            "accepted": batch.accepted,
            "duplicates": batch.duplicates,
            "rejected": batch.rejected,
            "skipped_blank": batch.skipped_blank,
            "lines_processed": batch.lines_processed,
            "warnings": [*batch.analysis, *batch.warnings],
            "failure_reason": batch.failure_reason,
            "rejected_lines": [
                {"line": n, "reason": r}
                for n, k, r in issues
                if k == BatchIssue.Kind.REJECTED
            ],
            "duplicate_lines": [
                {"line": n, "reason": r}
                for n, k, r in issues
                if k == BatchIssue.Kind.DUPLICATE
            ],
        },
    )
