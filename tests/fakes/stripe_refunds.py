"""Money going back: refunds, transfer reversals and application fee refunds.

A refund debits the platform. With `reverse_transfer` the connected account
gives back, and with `refund_application_fee` the platform gives back, the same
share of the transfer and of the application fee as the refund is of the charge
(a transfer reversal's `refund_application_fee`: the share of the fee that the
reversal is of the transfer). Shares are cumulative and rounded half up: each
is the share of everything refunded so far less the share of what was refunded
before, so they add up to the whole transfer and fee once all is refunded.
Stripe's own fee is not given back.
"""

from __future__ import annotations

from .stripe_store import (
    ApiError,
    Obj,
    Store,
    boolean,
    choice,
    id_of,
    integer,
    known,
    merge_metadata,
    money,
    share,
)

REFUND_PARAMS = frozenset({
    "amount", "charge", "currency", "customer", "expand", "instructions_email",
    "metadata", "origin", "payment_intent", "reason", "refund_application_fee",
    "reverse_transfer",
})  # fmt: skip
REVERSAL_PARAMS = frozenset({
    "amount", "description", "expand", "metadata", "refund_application_fee",
})  # fmt: skip
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _step(total: int, done: int, before: int, after: int, whole: int) -> int:
    """The share of `total` that going from `before` to `after` (of `whole`) adds,
    never more than is left of it (`done` is what was taken already)."""
    step = share(total, after, whole) - share(total, before, whole)
    return min(step, total - done)


# --- refunds --------------------------------------------------------------------------------
def refund_from_params(store: Store, params: Obj) -> Obj:
    known(params, REFUND_PARAMS)
    charge = _charge_to_refund(store, params)
    amount, reason = params.get("amount"), params.get("reason")
    return refund_create(
        store,
        charge,
        amount=None if amount is None else integer(amount, "amount", minimum=1),
        metadata=merge_metadata({}, params.get("metadata", {})),
        reason=None if reason is None else choice(reason, REFUND_REASONS, "reason"),
        reverse_transfer=boolean(
            params.get("reverse_transfer", False), "reverse_transfer"
        ),
        refund_application_fee=boolean(
            params.get("refund_application_fee", False), "refund_application_fee"
        ),
    )


def _charge_to_refund(store: Store, params: Obj) -> Obj:
    if params.get("charge"):
        return store.get("charge", str(params["charge"]), param="charge")
    if not params.get("payment_intent"):
        raise ApiError(
            400,
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
        )
    intent_id = str(params["payment_intent"])
    intent = store.get("payment_intent", intent_id, param="payment_intent")
    if not intent["latest_charge"]:
        raise ApiError(
            400,
            f"This PaymentIntent ({intent_id}) does not have a successful charge "
            "to refund.",
            param="payment_intent",
        )
    return store.get("charge", id_of(intent["latest_charge"]))


def refund_create(
    store: Store,
    charge: Obj,
    *,
    amount: int | None = None,
    metadata: Obj | None = None,
    reason: str | None = None,
    reverse_transfer: bool = False,
    refund_application_fee: bool = False,
) -> Obj:
    before = int(charge["amount_refunded"])
    _check_refundable(store, charge, charge["amount"] - before, amount)
    amount = charge["amount"] - before if amount is None else amount
    refund = store.create(
        "refund",
        amount=amount,
        charge=charge["id"],
        currency=charge["currency"],
        metadata=metadata or {},
        payment_intent=charge["payment_intent"],
        payment_method=charge["payment_method"],
        reason=reason,
        status="succeeded",
    )
    refund["balance_transaction"] = store.post(
        None,
        refund["id"],
        amount=-amount,
        currency=charge["currency"],
        txn_type="refund",
        category="refund",
    )
    charge["amount_refunded"] = before + amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    if reverse_transfer and charge.get("transfer"):
        refund["transfer_reversal"] = _reverse_share(store, charge, refund, before)
    if refund_application_fee and charge.get("application_fee"):
        _refund_fee_share(
            store,
            charge["application_fee"],
            before,
            charge["amount_refunded"],
            charge["amount"],
        )
    return refund


def _check_refundable(
    store: Store, charge: Obj, remaining: int, amount: int | None
) -> None:
    if remaining <= 0:
        raise ApiError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    if any(
        d["charge"] == charge["id"] and not d["is_charge_refundable"]
        for d in store.objects["dispute"].values()
    ):
        raise ApiError(
            400,
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    if amount is not None and amount > remaining:
        raise ApiError(
            400,
            f"Refund amount ({money(amount, charge['currency'])}) is greater than "
            f"unrefunded amount on charge ({money(remaining, charge['currency'])})",
            param="amount",
        )


def _reverse_share(store: Store, charge: Obj, refund: Obj, before: int) -> str | None:
    transfer = store.get("transfer", charge["transfer"])
    amount = _step(
        transfer["amount"],
        transfer["amount_reversed"],
        before,
        charge["amount_refunded"],
        charge["amount"],
    )
    if amount <= 0:
        return None
    return str(_reverse(store, transfer, amount, source_refund=refund["id"])["id"])


def refunds_of(store: Store, charge_id: str) -> list[Obj]:
    """A charge's refunds, newest first."""
    return [r for r in store.owned("refund", None) if r["charge"] == charge_id]


# --- transfer reversals and application fee refunds -------------------------------------------
def transfer_reversal_create(store: Store, transfer_id: str, params: Obj) -> Obj:
    """`POST /v1/transfers/{id}/reversals`: take money back from the connected account."""
    known(params, REVERSAL_PARAMS)
    transfer = store.get("transfer", transfer_id)
    before = int(transfer["amount_reversed"])
    left = transfer["amount"] - before
    amount = params.get("amount")
    amount = left if amount is None else integer(amount, "amount", minimum=1)
    if amount > left:
        raise ApiError(
            400,
            f"Transfer reversal amount ({money(amount, transfer['currency'])}) is "
            f"greater than the amount left to reverse "
            f"({money(left, transfer['currency'])}).",
            param="amount",
        )
    reversal = _reverse(
        store,
        transfer,
        amount,
        metadata=merge_metadata({}, params.get("metadata", {})),
    )
    refund_fee = boolean(
        params.get("refund_application_fee", False), "refund_application_fee"
    )
    charge = store.objects["charge"].get(id_of(transfer["source_transaction"]), {})
    if refund_fee and charge.get("application_fee"):
        _refund_fee_share(
            store,
            charge["application_fee"],
            before,
            transfer["amount_reversed"],
            transfer["amount"],
        )
    return reversal


def _reverse(
    store: Store,
    transfer: Obj,
    amount: int,
    *,
    source_refund: str | None = None,
    metadata: Obj | None = None,
) -> Obj:
    reversal = store.create(
        "transfer_reversal",
        amount=amount,
        currency=transfer["currency"],
        destination_payment_refund=store.new_id("pyr"),
        metadata=metadata or {},
        source_refund=source_refund,
        transfer=transfer["id"],
    )
    reversal["balance_transaction"] = store.post(
        None,
        reversal["id"],
        amount=amount,
        currency=transfer["currency"],
        txn_type="transfer_refund",
        category="transfer_reversal",
    )
    store.post(
        transfer["destination"],
        reversal["destination_payment_refund"],
        amount=-amount,
        currency=transfer["currency"],
        txn_type="payment_refund",
        category="refund",
    )
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"]["data"].insert(0, reversal)
    return reversal


def _refund_fee_share(
    store: Store, fee_id: str, before: int, after: int, whole: int
) -> None:
    fee = store.get("application_fee", fee_id)
    amount = _step(fee["amount"], fee["amount_refunded"], before, after, whole)
    if amount <= 0:
        return
    fee_refund = store.create(
        "fee_refund", amount=amount, currency=fee["currency"], fee=fee["id"]
    )
    fee_refund["balance_transaction"] = store.post(
        None,
        fee_refund["id"],
        amount=-amount,
        currency=fee["currency"],
        txn_type="application_fee_refund",
        category="platform_earning_refund",
    )
    store.post(
        fee["account"],
        fee_refund["id"],
        amount=amount,
        currency=fee["currency"],
        txn_type="application_fee_refund",
        category="platform_earning_refund",
    )
    fee["amount_refunded"] += amount
    fee["refunded"] = fee["amount_refunded"] == fee["amount"]
    fee["refunds"]["data"].insert(0, fee_refund)
