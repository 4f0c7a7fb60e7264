"""The fake's /v1 API: Stripe's paths, authentication, errors, lists and `expand[]`.

Lists are newest first and take `limit` (1-100, default 10), `starting_after`,
`ending_before`, `created` (an integer or gt/gte/lt/lte) and their own filters.
`Stripe-Account: acct_…` answers as that connected account (its balance, balance
transactions and payouts); unknown parameters and ids are refused as Stripe does.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import stripe_connect as connect
from . import stripe_disputes as disputes
from . import stripe_payments as payments
from . import stripe_refunds as refunds
from .stripe_events import Emit
from .stripe_store import ApiError, Obj, Store, id_of, integer, known

LIST_PARAMS = frozenset(
    {"limit", "starting_after", "ending_before", "expand", "created"}
)
RANGE = frozenset({"gt", "gte", "lt", "lte"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Obj
    authorization: str = ""
    account: str | None = None  # the Stripe-Account header


@dataclass
class Call:
    """One request being answered, and the events it causes."""

    store: Store
    request: Request
    events: list[Emit] = field(default_factory=list)

    @property
    def params(self) -> Obj:
        return self.request.params

    @property
    def account(self) -> str | None:
        return self.request.account

    def emit(
        self,
        event_type: str,
        obj: Obj,
        *,
        account: str | None = None,
        previous: Obj | None = None,
    ) -> None:
        self.events.append(Emit(event_type, copy.deepcopy(obj), account, previous))


Handler = Callable[..., Obj]


def dispatch(store: Store, request: Request) -> tuple[int, Obj, list[Emit]]:
    """The HTTP status, the body and the events of one API request."""
    call = Call(store, request)
    try:
        _authenticate(request.authorization)
        handler, args = _route(request.method, request.path)
        result = copy.deepcopy(handler(call, *args))
        return (
            200,
            expand(store, result, _paths(request.params.get("expand"))),
            call.events,
        )
    except ApiError as e:
        return e.status, e.body(), []


def _authenticate(authorization: str) -> None:
    scheme, _, credentials = authorization.partition(" ")
    key = credentials if scheme == "Bearer" else _basic_user(credentials)
    if not key:
        raise ApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    if not key.startswith(("sk_test_", "rk_test_")):  # never a live key
        raise ApiError(401, f"Invalid API Key provided: {key[:12]}***")


def _basic_user(credentials: str) -> str:
    try:
        return base64.b64decode(credentials).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _route(method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groups()
    raise ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )


# --- expansion ------------------------------------------------------------------------------
def _paths(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def expand(store: Store, obj: Obj, paths: Iterable[str]) -> Obj:
    """Stripe's `expand[]`: ids replaced by their objects, along dotted paths."""
    for path in paths:
        _expand(store, obj, path.split("."), path)
    return obj


def _expand(store: Store, obj: Obj, parts: list[str], path: str) -> None:
    head, rest = parts[0], parts[1:]
    if obj.get("object") == "list" and head == "data":
        for item in obj["data"]:
            _expand(store, item, rest, path)
        return
    virtual = VIRTUAL.get((str(obj.get("object")), head))
    if virtual is None and head not in obj:
        raise ApiError(
            400, f"This property cannot be expanded ({path}).", param="expand"
        )
    obj[head] = virtual(store, obj) if virtual else _object(store, obj[head])
    if rest and isinstance(obj[head], dict):
        _expand(store, obj[head], rest, path)


def _object(store: Store, value: Any) -> Any:
    found = store.find(value) if isinstance(value, str) else None
    return copy.deepcopy(found) if found is not None else value


def _charge_refunds(store: Store, charge: Obj) -> Obj:
    url = f"/v1/charges/{charge['id']}/refunds"
    return page(refunds.refunds_of(store, charge["id"]), {}, url)


def _session_line_items(store: Store, session: Obj) -> Obj:
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    return page(payments.line_items(store, session["id"]), {}, url)


# Lists Stripe includes only when asked (`expand[]=refunds` on a charge).
VIRTUAL: dict[tuple[str, str], Callable[[Store, Obj], Obj]] = {
    ("charge", "refunds"): _charge_refunds,
    ("checkout.session", "line_items"): _session_line_items,
}


# --- lists ----------------------------------------------------------------------------------
def page(items: list[Obj], params: Obj, url: str) -> Obj:
    """One page of a list that is newest first."""
    limit = integer(params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise ApiError(400, "Invalid integer: limit must be at most 100", param="limit")
    if "ending_before" in params:
        newer = items[: _position(items, params["ending_before"], "ending_before")]
        data, more = newer[-limit:], len(newer) > limit
    else:
        start = 0
        if "starting_after" in params:
            start = _position(items, params["starting_after"], "starting_after") + 1
        data, more = items[start : start + limit], len(items) > start + limit
    return {"object": "list", "data": data, "has_more": more, "url": url}


def _position(items: list[Obj], ident: Any, param: str) -> int:
    for i, item in enumerate(items):
        if item["id"] == ident:
            return i
    raise ApiError.missing("object", str(ident), param)


def _listing(call: Call, items: list[Obj], filters: Iterable[str] = ()) -> Obj:
    params, filters = call.params, tuple(filters)
    known(params, LIST_PARAMS | set(filters))
    created = params.get("created")
    chosen = [
        item
        for item in items
        if all(id_of(item.get(f)) == params[f] for f in filters if f in params)
        and _created_in(item.get("created"), created)
    ]
    return page(chosen, params, call.request.path)


def _created_in(created: int | None, condition: Any) -> bool:
    if condition is None or created is None:  # line items have no `created`
        return True
    if not isinstance(condition, dict):
        return created == integer(condition, "created")
    known(condition, RANGE, "created")
    bounds = {op: integer(v, f"created[{op}]") for op, v in condition.items()}
    return (
        created > bounds.get("gt", created - 1)
        and created >= bounds.get("gte", created)
        and created < bounds.get("lt", created + 1)
        and created <= bounds.get("lte", created)
    )


def _retriever(kind: str) -> Handler:
    def retrieve(call: Call, ident: str) -> Obj:
        known(call.params, ("expand",))
        return call.store.get(kind, ident, call.account)

    return retrieve


def _lister(kind: str, *filters: str) -> Handler:
    def listing(call: Call) -> Obj:
        return _listing(call, call.store.owned(kind, call.account), filters)

    return listing


# --- handlers -------------------------------------------------------------------------------
def _create_session(call: Call) -> Obj:
    return payments.session_create(call.store, call.params)


def _retrieve_session(call: Call, ident: str) -> Obj:
    known(call.params, ("expand",))
    call.store.get("checkout.session", ident, call.account)
    if payments.expire_if_due(call.store, ident):
        call.emit("checkout.session.expired", call.store.get("checkout.session", ident))
    return call.store.get("checkout.session", ident)


def _expire_session(call: Call, ident: str) -> Obj:
    known(call.params, ("expand",))
    session = payments.session_expire(call.store, ident)
    call.emit("checkout.session.expired", session)
    return session


def _list_line_items(call: Call, ident: str) -> Obj:
    call.store.get("checkout.session", ident, call.account)
    return _listing(call, payments.line_items(call.store, ident))


def _list_charge_refunds(call: Call, ident: str) -> Obj:
    call.store.get("charge", ident, call.account)
    return _listing(call, refunds.refunds_of(call.store, ident))


def _create_refund(call: Call) -> Obj:
    refund = refunds.refund_from_params(call.store, call.params)
    call.emit("charge.refunded", call.store.get("charge", refund["charge"]))
    return refund


def _reverse_transfer(call: Call, ident: str) -> Obj:
    reversal = refunds.transfer_reversal_create(call.store, ident, call.params)
    call.emit("transfer.reversed", call.store.get("transfer", ident))
    return reversal


def _list_reversals(call: Call, ident: str) -> Obj:
    transfer = call.store.get("transfer", ident, call.account)
    return _listing(call, transfer["reversals"]["data"])


def _retrieve_reversal(call: Call, ident: str, reversal_id: str) -> Obj:
    known(call.params, ("expand",))
    call.store.get("transfer", ident, call.account)
    reversal = call.store.get("transfer_reversal", reversal_id)
    if reversal["transfer"] != ident:
        raise ApiError.missing("transfer_reversal", reversal_id)
    return reversal


def _list_fee_refunds(call: Call, ident: str) -> Obj:
    fee = call.store.get("application_fee", ident, call.account)
    return _listing(call, fee["refunds"]["data"])


def _retrieve_balance(call: Call) -> Obj:
    known(call.params, ("expand",))
    return connect.balance(call.store, call.account)


def _create_account(call: Call) -> Obj:
    return connect.account_create(call.store, call.params)


def _update_account(call: Call, ident: str) -> Obj:
    account, previous = connect.account_update(call.store, ident, call.params)
    if previous:
        call.emit("account.updated", account, account=ident, previous=previous)
    return account


def _create_account_link(call: Call) -> Obj:
    return connect.account_link_create(call.store, call.params)


def _create_login_link(call: Call, ident: str) -> Obj:
    known(call.params, ("expand",))
    return connect.login_link_create(call.store, ident)


def _update_dispute(call: Call, ident: str) -> Obj:
    dispute = disputes.dispute_update(call.store, ident, call.params)
    call.emit("charge.dispute.updated", dispute)
    return dispute


def _close_dispute(call: Call, ident: str) -> Obj:
    known(call.params, ("expand",))
    dispute = disputes.dispute_accept(call.store, ident)
    call.emit("charge.dispute.closed", dispute)
    return dispute


ID = r"/([A-Za-z0-9_]+)"
_TABLE: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/checkout/sessions", _create_session),
    (
        "GET",
        "/v1/checkout/sessions",
        _lister("checkout.session", "payment_intent", "status"),
    ),
    ("GET", f"/v1/checkout/sessions{ID}", _retrieve_session),
    ("POST", f"/v1/checkout/sessions{ID}/expire", _expire_session),
    ("GET", f"/v1/checkout/sessions{ID}/line_items", _list_line_items),
    ("GET", "/v1/payment_intents", _lister("payment_intent")),
    ("GET", f"/v1/payment_intents{ID}", _retriever("payment_intent")),
    ("GET", "/v1/charges", _lister("charge", "payment_intent")),
    ("GET", f"/v1/charges{ID}", _retriever("charge")),
    ("GET", f"/v1/charges{ID}/refunds", _list_charge_refunds),
    ("POST", "/v1/refunds", _create_refund),
    ("GET", "/v1/refunds", _lister("refund", "charge", "payment_intent")),
    ("GET", f"/v1/refunds{ID}", _retriever("refund")),
    ("GET", "/v1/balance", _retrieve_balance),
    (
        "GET",
        "/v1/balance_transactions",
        _lister("balance_transaction", "source", "type", "currency"),
    ),
    ("GET", f"/v1/balance_transactions{ID}", _retriever("balance_transaction")),
    (
        "GET",
        "/v1/balance/history",
        _lister("balance_transaction", "source", "type", "currency"),
    ),
    ("GET", f"/v1/balance/history{ID}", _retriever("balance_transaction")),
    ("GET", "/v1/application_fees", _lister("application_fee", "charge")),
    ("GET", f"/v1/application_fees{ID}", _retriever("application_fee")),
    ("GET", f"/v1/application_fees{ID}/refunds", _list_fee_refunds),
    ("GET", "/v1/transfers", _lister("transfer", "destination", "transfer_group")),
    ("GET", f"/v1/transfers{ID}", _retriever("transfer")),
    ("POST", f"/v1/transfers{ID}/reversals", _reverse_transfer),
    ("GET", f"/v1/transfers{ID}/reversals", _list_reversals),
    ("GET", f"/v1/transfers{ID}/reversals{ID}", _retrieve_reversal),
    ("POST", "/v1/accounts", _create_account),
    ("GET", "/v1/accounts", _lister("account")),
    ("GET", f"/v1/accounts{ID}", _retriever("account")),
    ("POST", f"/v1/accounts{ID}", _update_account),
    ("POST", f"/v1/accounts{ID}/login_links", _create_login_link),
    ("POST", "/v1/account_links", _create_account_link),
    ("GET", "/v1/payouts", _lister("payout", "status")),
    ("GET", f"/v1/payouts{ID}", _retriever("payout")),
    ("GET", "/v1/disputes", _lister("dispute", "charge", "payment_intent")),
    ("GET", f"/v1/disputes{ID}", _retriever("dispute")),
    ("POST", f"/v1/disputes{ID}", _update_dispute),
    ("POST", f"/v1/disputes{ID}/close", _close_dispute),
    (
        "GET",
        "/v1/radar/early_fraud_warnings",
        _lister("radar.early_fraud_warning", "charge", "payment_intent"),
    ),
    (
        "GET",
        f"/v1/radar/early_fraud_warnings{ID}",
        _retriever("radar.early_fraud_warning"),
    ),
]
ROUTES = [(method, re.compile(path), handler) for method, path, handler in _TABLE]
