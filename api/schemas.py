"""Request and response bodies of API v1 (their OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import Field

MAX_JSON_CODES = 10_000


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
    reason: Annotated[
        str,
        Field(
            max_length=300,
            description="Why: the buyer reads it when the code is not refunded",
        ),
    ] = ""
    refund: Annotated[
        bool,
        Field(
            description="Refund the buyer for a sold code (through the payment provider)"
        ),
    ] = False


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
