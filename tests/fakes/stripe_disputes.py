"""Disputes (chargebacks), their evidence and outcome, and Radar's early fraud warnings.

A dispute withdraws the disputed amount and Stripe's dispute fee (DISPUTE_FEE,
in minor units of the charge's currency) from the platform's balance at once; a
dispute won gives both back. Transfers are not reversed by a dispute (Stripe
leaves that to the platform for destination charges).
"""

from __future__ import annotations

import copy

from .stripe_store import (
    DAY,
    FIXTURES,
    ApiError,
    Obj,
    Store,
    boolean,
    choice,
    known,
    merge_metadata,
    now,
)

DISPUTE_FEE = 1500
EVIDENCE_DAYS = 7
RESPONDABLE = ("needs_response", "warning_needs_response")
OPEN = (*RESPONDABLE, "under_review", "warning_under_review")
REASONS = (
    "bank_cannot_process", "check_returned", "credit_not_processed",
    "customer_initiated", "debit_not_authorized", "duplicate", "fraudulent", "general",
    "incorrect_account_details", "insufficient_funds", "noncompliant",
    "product_not_received", "product_unacceptable", "subscription_canceled",
    "unrecognized",
)  # fmt: skip
EVIDENCE_FIELDS = frozenset(FIXTURES["dispute"]["evidence"])
FRAUD_TYPES = (
    "card_never_received", "fraudulent_card_application", "made_with_counterfeit_card",
    "made_with_lost_card", "made_with_stolen_card", "misc", "unauthorized_use_of_card",
)  # fmt: skip


def dispute_open(store: Store, charge_id: str, reason: str) -> Obj:
    """The card holder's bank disputes the whole charge."""
    choice(reason, REASONS, "reason")
    charge = store.get("charge", charge_id)
    if any(d["charge"] == charge_id for d in store.objects["dispute"].values()):
        raise ApiError(400, f"Charge {charge_id} is already disputed.")
    due = now() + EVIDENCE_DAYS * DAY
    card = copy.deepcopy(FIXTURES["dispute"]["payment_method_details"])
    card["card"]["case_type"] = "chargeback"
    dispute = store.create(
        "dispute",
        amount=charge["amount"],
        balance_transactions=[],
        charge=charge_id,
        currency=charge["currency"],
        evidence_details={
            **FIXTURES["dispute"]["evidence_details"],
            "due_by": due - due % DAY + DAY - 1,  # the end of that day, UTC
        },
        is_charge_refundable=False,
        payment_intent=charge["payment_intent"],
        payment_method_details=card,
        reason=reason,
        status="needs_response",
    )
    _book(store, dispute, -dispute["amount"], DISPUTE_FEE, "dispute")
    charge["disputed"] = True
    return dispute


def _book(store: Store, dispute: Obj, amount: int, fee: int, category: str) -> None:
    currency = dispute["currency"]
    txn = store.post(
        None,
        dispute["id"],
        amount=amount,
        currency=currency,
        txn_type="adjustment",
        category=category,
        fee_details=[
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Dispute fee",
                "type": "stripe_fee",
            }
        ],
        description=f"Chargeback for {dispute['charge']}",
    )
    dispute["balance_transactions"].append(
        copy.deepcopy(store.objects["balance_transaction"][txn])
    )


def dispute_close(store: Store, dispute_id: str, status: str) -> Obj:
    """The bank decides: "won" gives the amount and the fee back, "lost" keeps them."""
    choice(status, ("won", "lost"), "status")
    dispute = store.get("dispute", dispute_id)
    if dispute["status"] not in OPEN:
        raise ApiError(400, f"Dispute {dispute_id} is already closed.")
    dispute["status"] = status
    if status == "won":
        _book(store, dispute, dispute["amount"], -DISPUTE_FEE, "dispute_reversal")
    return dispute


def dispute_update(store: Store, dispute_id: str, params: Obj) -> Obj:
    """Stage evidence (submit=false) or submit it (the default) for the bank's review."""
    known(params, ("evidence", "expand", "metadata", "submit"))
    dispute = store.get("dispute", dispute_id)
    _check_respondable(dispute)
    evidence = params.get("evidence") or {}
    known(evidence, EVIDENCE_FIELDS, "evidence")
    dispute["evidence"].update(evidence)
    if "metadata" in params:
        dispute["metadata"] = merge_metadata(dispute["metadata"], params["metadata"])
    details = dispute["evidence_details"]
    details["has_evidence"] = any(
        value not in (None, "", {}) for value in dispute["evidence"].values()
    )
    if boolean(params.get("submit", True), "submit"):
        dispute["status"] = "under_review"
        details["submission_count"] += 1
    return dispute


def dispute_accept(store: Store, dispute_id: str) -> Obj:
    """Closing a dispute through the API concedes it: it is lost."""
    dispute = store.get("dispute", dispute_id)
    _check_respondable(dispute)
    dispute["status"] = "lost"
    return dispute


def _check_respondable(dispute: Obj) -> None:
    if dispute["status"] not in RESPONDABLE:
        raise ApiError(
            400,
            f"Dispute {dispute['id']} can no longer be changed: its status is "
            f"{dispute['status']}.",
        )


def early_fraud_warning_create(
    store: Store, charge_id: str, *, actionable: bool, fraud_type: str
) -> Obj:
    choice(fraud_type, FRAUD_TYPES, "fraud_type")
    charge = store.get("charge", charge_id)
    return store.create(
        "radar.early_fraud_warning",
        actionable=actionable,
        charge=charge_id,
        fraud_type=fraud_type,
        payment_intent=charge["payment_intent"],
    )
