"""HTTP API v1 (django-ninja): typed schemas, OpenAPI at /api/v1/openapi.json,
docs at /api/v1/docs (Swagger UI served from our own static files).

The shape is fixed by DESIGN.md ("Stable interfaces"). Codes travel only in
request bodies. Errors are `{"error": {"code", "message"}}`. Every response
carries X-RateLimit-* headers; over the limit answers 429 with Retry-After.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import Field

from listings.models import Listing
from listings.selectors import seller_listings

from . import api_keys
from .exceptions import (
    CodeAlreadyRedeemed,
    CodeBusy,
    CodeCancelled,
    CodeNotFound,
    CodesError,
    InvalidCodeValue,
)
from .models import ApiKey, BatchIssue, CodeBatch
from .services import batch_create_from_values, batch_create_upload
from .validation import CodeState, code_redeem, code_revoke, code_verify

MAX_JSON_CODES = 10_000


class KeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return api_keys.api_key_authenticate(token)


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


# --- schemas -----------------------------------------------------------------------


class ErrorBody(Schema):
    code: str
    message: str


class Error(Schema):
    error: ErrorBody


CodeValue = Annotated[
    str,
    Field(min_length=1, max_length=1000, description="The code, as the buyer gave it"),
]


class CodeIn(Schema):
    code: CodeValue


class RedeemIn(Schema):
    code: CodeValue
    account: Annotated[
        str,
        Field(
            min_length=1,
            max_length=255,
            pattern=r"\S",
            description="Your account or reference that redeems it",
        ),
    ]


class RevokeIn(Schema):
    code: CodeValue
    reason: Annotated[str, Field(max_length=300)] = ""


class ListingRef(Schema):
    id: int
    title: str


class CodeOut(Schema):
    valid: bool
    status: str
    listing: ListingRef
    sold_at: datetime | None
    redeemed_at: datetime | None
    redeemed_by: str | None


class NotValid(Schema):
    valid: bool = False


class ListingOut(Schema):
    id: int
    title: str
    status: str
    available: int
    sold: int
    redeemed: int


class CodesIn(Schema):
    codes: list[str]


class BatchCreated(Schema):
    batch: int


class LineReport(Schema):
    line: int
    reason: str


class BatchOut(Schema):
    id: int
    listing: int
    status: str
    accepted: int
    duplicates: int
    rejected: int
    skipped_blank: int
    lines_processed: int
    warnings: list[str]
    failure_reason: str
    rejected_lines: list[LineReport]
    duplicate_lines: list[LineReport]


# --- errors ---------------------------------------------------------------------------


def error(
    request: HttpRequest, status: int, code: str, message: str, **headers: str
) -> HttpResponse:
    response = api.create_response(
        request, {"error": {"code": code, "message": message}}, status=status
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
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
    return error(
        request,
        400,
        "invalid_request",
        "; ".join(problems) or "The request body is not valid.",
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(
        request,
        401,
        "unauthorized",
        "Send a valid API key: Authorization: Bearer <key>.",
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {
        400: "invalid_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
    }
    return error(
        request, exc.status_code, codes.get(exc.status_code, "error"), str(exc)
    )


# --- guard: key state, scope and rate limits -------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = (
            status,
            code,
            message,
            headers,
        )


@api.exception_handler(Refused)
def on_refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    return error(request, exc.status, exc.code, exc.message, **exc.headers)


def guard(request: HttpRequest, response: HttpResponse, scope: str | None) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if key.suspended_at is not None:
        raise Refused(
            403,
            "key_suspended",
            "This key is suspended after too many failed look-ups. Create a new one.",
        )
    if scope is not None and scope not in key.scopes:
        raise Refused(403, "missing_scope", f"This key lacks the '{scope}' scope.")
    state = api_keys.rate_check(key)
    headers = {
        "X_RateLimit_Limit": str(state.limit),
        "X_RateLimit_Remaining": str(state.remaining),
        "X_RateLimit_Reset": str(state.reset),
    }
    if not state.allowed:
        raise Refused(
            429,
            "rate_limited",
            f"Slow down: {state.reason}. Try again in {state.reset} s.",
            Retry_After=str(state.reset),
            **headers,
        )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
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


def _not_found(key: ApiKey, body: dict[str, Any]) -> Status[Any]:
    api_keys.rate_record_failure(key)
    return Status(404, body)


def failure(status: int, code: str, message: str) -> Status[Any]:
    """An error answer in the API's one shape: {"error": {"code", "message"}}."""
    return Status(status, {"error": {"code": code, "message": message}})


NOT_FOUND_ERROR = {"error": {"code": "not_found", "message": "No such code."}}


# Every endpoint can answer these: bad request, no/invalid key, suspended key or
# missing scope, rate limited.
COMMON_ERRORS = {400: Error, 401: Error, 403: Error, 429: Error}


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
        return _not_found(key, {"valid": False})
    api_keys.rate_record_success(key)
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
    except CodeNotFound:
        return _not_found(key, NOT_FOUND_ERROR)
    except InvalidCodeValue as e:
        return failure(400, "invalid_request", str(e))
    except CodeAlreadyRedeemed as e:
        when = e.redeemed_at.isoformat() if isinstance(e.redeemed_at, datetime) else ""
        return failure(
            409, "already_redeemed", f"Redeemed at {when} by {e.redeemed_by}."
        )
    except CodeCancelled as e:
        return failure(410, "cancelled", str(e))
    api_keys.rate_record_success(key)
    return Status(200, _code_out(state))


@api.post(
    "/codes/revoke",
    response={200: CodeOut, **COMMON_ERRORS, 404: Error, 409: Error},
    summary="Revoke a code",
)
def revoke(request: HttpRequest, response: HttpResponse, payload: RevokeIn) -> Any:
    """A sold or redeemed code becomes `cancelled` (never sold again); an unsold one is
    `withdrawn`. Repeating it is harmless."""
    key = guard(request, response, "revoke")
    try:
        state = code_revoke(
            seller_id=key.seller_id, value=payload.code, reason=payload.reason
        )
    except CodeNotFound:
        return _not_found(key, NOT_FOUND_ERROR)
    except CodeBusy as e:
        return failure(409, "in_checkout", str(e))
    api_keys.rate_record_success(key)
    return Status(200, _code_out(state))


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
        return failure(404, "not_found", "No such listing.")
    try:
        with transaction.atomic():
            if request.content_type == "multipart/form-data":
                file = request.FILES.get("file")
                if file is None:
                    raise CodesError(
                        "file: send the CSV file in the multipart field 'file'"
                    )
                if not file.size:
                    raise CodesError("file: the file is empty")
                header = str(request.POST.get("header", "false")).lower() in (
                    "true",
                    "1",
                    "on",
                )
                batch = batch_create_upload(
                    listing=listing,
                    file=file,
                    filename=file.name or "upload.csv",
                    has_header=header,
                    source=CodeBatch.Source.API,
                )
            else:
                batch = batch_create_from_values(
                    listing=listing, values=_json_codes(request)
                )
    except CodesError as e:
        return failure(400, "invalid_request", str(e))
    return Status(202, {"batch": batch.pk})


def _json_codes(request: HttpRequest) -> list[str]:
    import json

    try:
        body = json.loads(request.body or b"null")
    except ValueError as e:
        raise CodesError(
            "body: send a CSV file as multipart field 'file', or JSON {\"codes\": [...]}"
        ) from e
    codes = body.get("codes") if isinstance(body, dict) else None
    if (
        not isinstance(codes, list)
        or not codes
        or not all(isinstance(c, str) for c in codes)
    ):
        raise CodesError("codes: a non-empty list of strings")
    if len(codes) > MAX_JSON_CODES:
        raise CodesError(
            f"codes: at most {MAX_JSON_CODES:,} per request; upload a CSV file for more"
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
        return failure(404, "not_found", "No such batch.")
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
