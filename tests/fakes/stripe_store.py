"""The fake Stripe's objects and books: storage, ids, errors, parameters, balances.

Every object starts as a deep copy of Stripe's published example of its kind
(stripe_fixtures.json, from github.com/stripe/openapi, MIT) with the values of
the request and of the fake's world put in. Money is booked as balance
transactions, per account (None: the platform), and balances are their sums.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

FIXTURES: dict[str, Obj] = json.loads(
    Path(__file__).with_name("stripe_fixtures.json").read_text()
)
API_VERSION = "2026-07-29.dahlia"
DAY = 86_400
# Funds of a charge become available this long after it (Stripe: 2 days in the US).
PENDING_DAYS = 2

# The id prefix of each kind of object (the value of its `object`).
PREFIXES = {
    "checkout.session": "cs",
    "payment_intent": "pi",
    "charge": "ch",
    "refund": "re",
    "balance_transaction": "txn",
    "application_fee": "fee",
    "fee_refund": "fr",
    "transfer": "tr",
    "transfer_reversal": "trr",
    "account": "acct",
    "payout": "po",
    "dispute": "dp",
    "radar.early_fraud_warning": "issfr",
}
KINDS_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}
# ISO 4217 currencies Stripe takes in whole units.
ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
    "vuv", "xaf", "xof", "xpf",
})  # fmt: skip


def now() -> int:
    return int(time.time())


def id_of(value: Any) -> str:
    """The id of a field that is an id, an expanded object, or null."""
    if isinstance(value, dict):
        return str(value.get("id", ""))
    return "" if value is None else str(value)


def share(total: int, part: int, whole: int) -> int:
    """total * part / whole, rounded half up."""
    return (2 * total * part + whole) // (2 * whole)


def money(amount: int, currency: str) -> str:
    """An amount in minor units as people read it (for messages and pages)."""
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount / 100:.2f} {currency.upper()}"


class ApiError(Exception):
    """A Stripe error answer: its HTTP status and its `error` object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: Obj = {"type": error_type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = (
                f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
            )
        if param:
            self.error["param"] = param

    @classmethod
    def missing(cls, kind: str, ident: str, param: str = "id") -> ApiError:
        return cls(
            404, f"No such {kind}: '{ident}'", code="resource_missing", param=param
        )

    def body(self) -> Obj:
        return {"error": dict(self.error)}


# --- parameters, as Stripe's form encoding delivers them (strings) ---------------------
def known(params: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """Stripe refuses parameters it does not know."""
    allowed = frozenset(allowed)
    for name in params:
        if name not in allowed:
            full = f"{prefix}[{name}]" if prefix else name
            raise ApiError(
                400,
                f"Received unknown parameter: {full}",
                code="parameter_unknown",
                param=full,
            )


def required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise ApiError(
            400,
            f"Missing required param: {name}.",
            code="parameter_missing",
            param=name,
        )
    return str(value)


def integer(value: Any, param: str, *, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid integer: {value}", param=param) from None
    if minimum is not None and number < minimum:
        raise ApiError(
            400,
            f"Invalid integer: {value} (must be at least {minimum})",
            param=param,
        )
    return number


def boolean(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise ApiError(400, f"Invalid boolean: {value}", param=param)


def choice(value: Any, options: Iterable[str], param: str) -> str:
    options = tuple(options)
    if value not in options:
        raise ApiError(
            400,
            f"Invalid {param}: must be one of {', '.join(options)}",
            param=param,
        )
    return str(value)


def merge_metadata(current: Obj, value: Any, param: str = "metadata") -> Obj:
    """Stripe's update rule: keys set to "" go away, and metadata="" empties it."""
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid object", param=param)
    merged = {**current, **value}
    return {key: str(v) for key, v in merged.items() if v != ""}


@dataclass
class Checkout:
    """What a Checkout Session keeps that its object does not show."""

    line_items: list[Obj]
    payment_intent_data: Obj


@dataclass
class Grant:
    """An account link: one visit of the onboarding page, before it expires."""

    account: str
    refresh_url: str
    return_url: str
    expires_at: int
    visited: bool = False


class Store:
    """Every object by kind and id, whose balance each belongs to, and the books."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.objects: dict[str, dict[str, Obj]] = {kind: {} for kind in PREFIXES}
        self.owners: dict[str, str | None] = {}
        self.checkouts: dict[str, Checkout] = {}
        self.grants: dict[str, Grant] = {}
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids)}"

    def create(self, kind: str, owner: str | None = None, **fields: Any) -> Obj:
        """A copy of Stripe's example of `kind` with a new id, now, and `fields`."""
        obj = copy.deepcopy(FIXTURES[kind])
        obj.update(id=self.new_id(PREFIXES[kind]), created=now())
        obj.update(fields)
        self.objects[kind][obj["id"]] = obj
        self.owners[obj["id"]] = owner
        return obj

    def get(
        self, kind: str, ident: str, account: str | None = None, *, param: str = "id"
    ) -> Obj:
        """An object as `account` (None: the platform) may see it, or Stripe's 404."""
        obj = self.objects[kind].get(ident)
        if obj is None or not self._visible(kind, ident, account):
            raise ApiError.missing(kind, ident, param)
        return obj

    def find(self, ident: str) -> Obj | None:
        kind = KINDS_BY_PREFIX.get(ident.partition("_")[0])
        return self.objects[kind].get(ident) if kind else None

    def owned(self, kind: str, account: str | None) -> list[Obj]:
        """The objects of a kind that `account` sees, newest first."""
        return [
            obj
            for obj in reversed(self.objects[kind].values())
            if self._visible(kind, obj["id"], account)
        ]

    def _visible(self, kind: str, ident: str, account: str | None) -> bool:
        if kind == "account":  # the platform sees its connected accounts
            return account in (None, ident)
        return self.owners.get(ident) == account

    # --- the books ----------------------------------------------------------------------
    def post(
        self,
        owner: str | None,
        source: str,
        *,
        amount: int,
        currency: str,
        txn_type: str,
        category: str,
        fee_details: list[Obj] | None = None,
        pending: bool = False,
        description: str | None = None,
    ) -> str:
        """Book a balance transaction on `owner`'s balance; its id."""
        fee = sum(int(d["amount"]) for d in fee_details or [])
        created = now()
        txn = self.create(
            "balance_transaction",
            owner,
            amount=amount,
            fee=fee,
            net=amount - fee,
            fee_details=fee_details or [],
            currency=currency,
            type=txn_type,
            reporting_category=category,
            source=source,
            status="pending" if pending else "available",
            available_on=created + PENDING_DAYS * DAY if pending else created,
            description=description,
            exchange_rate=None,
        )
        return str(txn["id"])

    def settle(self, owner: str | None) -> None:
        """Pending funds become available (Stripe's payout schedule, now)."""
        for txn in self.owned("balance_transaction", owner):
            if txn["status"] == "pending":
                txn.update(status="available", available_on=now())

    def totals(self, owner: str | None) -> dict[str, dict[str, int]]:
        """Per status ("available", "pending"), per currency: the sum of the nets."""
        totals: dict[str, dict[str, int]] = {"available": {}, "pending": {}}
        for txn in self.owned("balance_transaction", owner):
            by_currency = totals[txn["status"]]
            by_currency[txn["currency"]] = (
                by_currency.get(txn["currency"], 0) + txn["net"]
            )
        return totals
