"""Checkout Sessions and their payment, as Stripe does them.

Paying a session creates its PaymentIntent and Charge. A destination charge
(`payment_intent_data[transfer_data][destination]`) is Stripe's: the whole
charge (or `transfer_data[amount]`) is transferred to the connected account,
and `application_fee_amount` comes back from it to the platform as an
Application Fee. The platform pays Stripe's fee (STRIPE_FEE_*) on every charge.
"""

from __future__ import annotations

import copy
from typing import Any

from .stripe_store import (
    FIXTURES,
    ApiError,
    Checkout,
    Obj,
    Store,
    choice,
    id_of,
    integer,
    known,
    merge_metadata,
    now,
    share,
)

# Stripe's standard card pricing: 2.9 % + 30 minor units (any currency, here).
STRIPE_FEE_PER_MILLE = 29
STRIPE_FEE_FIXED = 30
DEFAULT_FINGERPRINT = FIXTURES["charge"]["payment_method_details"]["card"][
    "fingerprint"
]
DEFAULT_EMAIL = FIXTURES["checkout.session"]["customer_details"]["email"]
RISK_SCORES = {"normal": 20, "elevated": 70, "highest": 85}
PLATFORM_APPLICATION = FIXTURES["application_fee"]["application"]
EXPIRY_MIN, EXPIRY_MAX = 30 * 60, 24 * 3600

SESSION_PARAMS = frozenset({
    "adaptive_pricing", "after_expiration", "allow_promotion_codes", "automatic_tax",
    "billing_address_collection", "branding_settings", "cancel_url",
    "client_reference_id", "consent_collection", "currency", "custom_fields",
    "custom_text", "customer", "customer_account", "customer_creation",
    "customer_email", "customer_update", "discounts", "excluded_payment_method_types",
    "expand", "expires_at", "integration_identifier", "invoice_creation", "line_items",
    "locale", "managed_payments", "metadata", "mode", "name_collection",
    "optional_items", "origin_context", "payment_intent_data",
    "payment_method_collection", "payment_method_configuration", "payment_method_data",
    "payment_method_options", "payment_method_types", "permissions",
    "phone_number_collection", "redirect_on_completion", "return_url",
    "saved_payment_method_options", "setup_intent_data", "shipping_address_collection",
    "shipping_options", "submit_type", "subscription_data", "success_url",
    "tax_id_collection", "ui_mode", "wallet_options",
})  # fmt: skip
INTENT_DATA_PARAMS = frozenset({
    "application_fee_amount", "capture_method", "description", "metadata",
    "on_behalf_of", "receipt_email", "setup_future_usage", "shipping",
    "statement_descriptor", "statement_descriptor_suffix", "transfer_data",
    "transfer_group",
})  # fmt: skip


def stripe_fee(amount: int) -> int:
    return share(amount, STRIPE_FEE_PER_MILLE, 1000) + STRIPE_FEE_FIXED


# --- Checkout Sessions -------------------------------------------------------------------
def session_create(store: Store, params: Obj) -> Obj:
    known(params, SESSION_PARAMS)
    if params.get("mode", "payment") != "payment":
        raise ApiError(400, "The fake serves mode=payment only.", param="mode")
    items = _line_items(store, params.get("line_items"))
    total = sum(int(item["amount_total"]) for item in items)
    intent_data = _intent_data(store, params.get("payment_intent_data", {}), total)
    session = store.create(
        "checkout.session",
        amount_subtotal=total,
        amount_total=total,
        currency=items[0]["currency"],
        metadata=merge_metadata({}, params.get("metadata", {})),
        client_reference_id=params.get("client_reference_id"),
        customer_email=params.get("customer_email"),
        customer_details=None,
        success_url=params.get("success_url"),
        cancel_url=params.get("cancel_url"),
        expires_at=_expires_at(params.get("expires_at")),
        payment_method_types=params.get("payment_method_types", ["card"]),
        status="open",
        payment_status="unpaid",
        payment_intent=None,  # created when the buyer pays (Stripe since 2022-08-01)
        mode="payment",
        # the example's random amounts and options this request did not ask for
        after_expiration=None,
        collected_information=None,
        currency_conversion=None,
        shipping_address_collection=None,
        shipping_cost=None,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    )
    session["url"] = f"{store.base_url}/pay/{session['id']}"
    store.checkouts[session["id"]] = Checkout(items, intent_data)
    return session


def _line_items(store: Store, value: Any) -> list[Obj]:
    if not value:
        raise ApiError(
            400,
            "Missing required param: line_items.",
            code="parameter_missing",
            param="line_items",
        )
    if not isinstance(value, list):
        raise ApiError(400, "Invalid array", param="line_items")
    return [_line_item(store, i, item) for i, item in enumerate(value)]


def _line_item(store: Store, index: int, item: Obj) -> Obj:
    param = f"line_items[{index}]"
    if "price" in item:  # the fake keeps no Price objects
        raise ApiError.missing("price", str(item["price"]), f"{param}[price]")
    data = item.get("price_data") or {}
    unit = integer(
        data.get("unit_amount"), f"{param}[price_data][unit_amount]", minimum=0
    )
    quantity = integer(item.get("quantity"), f"{param}[quantity]", minimum=1)
    currency = str(data.get("currency", "")).lower()
    price = copy.deepcopy(FIXTURES["item"]["price"])
    price.update(
        id=store.new_id("price"),
        created=now(),
        currency=currency,
        product=store.new_id("prod"),
        recurring=None,
        transform_quantity=None,
        type="one_time",
        unit_amount=unit,
        unit_amount_decimal=str(unit),
    )
    line = copy.deepcopy(FIXTURES["item"])
    line.update(
        id=store.new_id("li"),
        amount_subtotal=unit * quantity,
        amount_total=unit * quantity,
        currency=currency,
        description=(data.get("product_data") or {}).get("name"),
        price=price,
        quantity=quantity,
        adjustable_quantity=None,
    )
    return line


def _intent_data(store: Store, data: Obj, total: int) -> Obj:
    known(data, INTENT_DATA_PARAMS, "payment_intent_data")
    if data.get("capture_method", "automatic") not in ("automatic", "automatic_async"):
        raise ApiError(
            400,
            "The fake captures automatically only.",
            param="payment_intent_data[capture_method]",
        )
    transfer = data.get("transfer_data") or {}
    if transfer:
        _check_destination(store, transfer, total)
    if "application_fee_amount" in data:
        _check_fee(data, total)
    return data


def _check_destination(store: Store, transfer: Obj, total: int) -> None:
    param = "payment_intent_data[transfer_data][destination]"
    destination = str(transfer.get("destination", ""))
    if destination not in store.objects["account"]:
        raise ApiError(
            400,
            f"No such destination: '{destination}'",
            code="resource_missing",
            param=param,
        )
    if store.objects["account"][destination]["capabilities"].get("transfers") != (
        "active"
    ):
        raise ApiError(
            400,
            "Your destination account needs to have at least one of the following "
            "capabilities enabled: transfers, crypto_transfers, legacy_payments",
            code="insufficient_capabilities_for_transfer",
            param=param,
        )
    if "amount" in transfer:
        amount = integer(
            transfer["amount"], "payment_intent_data[transfer_data][amount]"
        )
        if not 0 <= amount <= total:
            raise ApiError(
                400,
                "transfer_data[amount] must be no more than the amount of the payment.",
                param="payment_intent_data[transfer_data][amount]",
            )


def _check_fee(data: Obj, total: int) -> None:
    param = "payment_intent_data[application_fee_amount]"
    fee = integer(data["application_fee_amount"], param, minimum=0)
    transfer = data.get("transfer_data") or {}
    if not transfer.get("destination"):
        raise ApiError(
            400,
            "Can only apply an application_fee_amount when the PaymentIntent is "
            "attempting a direct payment (using an OAuth key or Stripe-Account "
            "header) or destination payment (using `transfer_data[destination]`).",
            param=param,
        )
    if "amount" in transfer:
        raise ApiError(
            400,
            "You cannot specify both application_fee_amount and transfer_data[amount].",
            param=param,
        )
    if fee > total:
        raise ApiError(
            400,
            "The application fee cannot be greater than the amount of the payment.",
            param=param,
        )


def _expires_at(value: Any) -> int:
    if value is None:
        return now() + EXPIRY_MAX
    expires_at = integer(value, "expires_at")
    if expires_at - now() < EXPIRY_MIN:
        raise ApiError(
            400,
            "The `expires_at` timestamp must be at least 30 minutes from Checkout "
            "Session creation.",
            param="expires_at",
        )
    if expires_at - now() > EXPIRY_MAX:
        raise ApiError(
            400,
            "The `expires_at` timestamp must be less than 24 hours from Checkout "
            "Session creation.",
            param="expires_at",
        )
    return expires_at


def session_expire(store: Store, session_id: str) -> Obj:
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise ApiError(
            400,
            'Only Checkout Sessions with a status in ["open"] can be expired.',
            param="session",
        )
    session["status"] = "expired"
    return session


def expire_if_due(store: Store, session_id: str) -> bool:
    """Stripe expires an open session at its `expires_at`; whether that happened now."""
    session = store.get("checkout.session", session_id)
    if session["status"] == "open" and session["expires_at"] <= now():
        session_expire(store, session_id)
        return True
    return False


def line_items(store: Store, session_id: str) -> list[Obj]:
    return store.checkouts[session_id].line_items


def session_pay(
    store: Store,
    session_id: str,
    *,
    payment_status: str,
    risk_level: str,
    fingerprint: str,
    email: str | None,
) -> tuple[Obj, str | None]:
    """The buyer pays (or, "unpaid", starts a delayed payment): the session and the
    event Stripe sends for it (None: nothing happened)."""
    choice(payment_status, ("paid", "unpaid"), "payment_status")
    choice(risk_level, RISK_SCORES, "risk_level")
    session = store.get("checkout.session", session_id)
    if session["status"] == "expired":
        raise ApiError(400, f"Checkout Session {session_id} has expired.")
    if session["payment_status"] == "paid" or (
        session["status"] == "complete" and payment_status == "unpaid"
    ):
        return session, None
    event = (
        "checkout.session.completed"
        if session["status"] == "open"
        else "checkout.session.async_payment_succeeded"
    )
    email = email or session["customer_email"] or DEFAULT_EMAIL
    intent = _intent(store, session)
    session.update(
        status="complete",
        payment_status=payment_status,
        payment_intent=intent["id"],
        customer_details={
            **FIXTURES["checkout.session"]["customer_details"],
            "email": email,
        },
    )
    if payment_status == "paid":
        data = store.checkouts[session_id].payment_intent_data
        charge = _charge(store, intent, data, risk_level, fingerprint, email)
        intent.update(
            status="succeeded",
            amount_received=charge["amount"],
            latest_charge=charge["id"],
        )
    return session, event


def _intent(store: Store, session: Obj) -> Obj:
    if session["payment_intent"]:
        return store.get("payment_intent", session["payment_intent"])
    data = store.checkouts[session["id"]].payment_intent_data
    transfer = data.get("transfer_data") or {}
    intent = store.create(
        "payment_intent",
        amount=session["amount_total"],
        amount_received=0,
        currency=session["currency"],
        application_fee_amount=_fee_amount(data),
        automatic_payment_methods=None,
        canceled_at=None,
        client_secret="",
        description=data.get("description"),
        last_payment_error=None,
        metadata=merge_metadata({}, data.get("metadata", {})),
        next_action=None,
        on_behalf_of=data.get("on_behalf_of"),
        payment_method=store.new_id("pm"),
        processing=None,
        receipt_email=data.get("receipt_email"),
        shipping=None,
        status="processing",
        transfer_data={"destination": transfer["destination"]} if transfer else None,
    )
    intent.update(
        client_secret=f"{intent['id']}_secret_test",
        transfer_group=data.get("transfer_group")
        or (f"group_{intent['id']}" if transfer else None),
    )
    return intent


def _fee_amount(data: Obj) -> int | None:
    fee = data.get("application_fee_amount")
    return None if fee is None else int(fee)


def _charge(
    store: Store,
    intent: Obj,
    data: Obj,
    risk_level: str,
    fingerprint: str,
    email: str,
) -> Obj:
    amount, currency = int(intent["amount"]), str(intent["currency"])
    charge = store.create(
        "charge",
        amount=amount,
        amount_captured=amount,
        amount_refunded=0,
        application_fee_amount=intent["application_fee_amount"],
        billing_details={**FIXTURES["charge"]["billing_details"], "email": email},
        captured=True,
        currency=currency,
        description=intent["description"],
        metadata=dict(intent["metadata"]),
        on_behalf_of=intent["on_behalf_of"],
        outcome=_outcome(risk_level),
        payment_intent=intent["id"],
        payment_method=intent["payment_method"],
        payment_method_details=_card_details(fingerprint, amount),
        receipt_email=intent["receipt_email"],
        refunded=False,
        source=None,
        transfer_data=None,
        transfer_group=intent["transfer_group"],
    )
    del charge["refunds"]  # only with expand[]=refunds (Stripe since 2022-11-15)
    charge["balance_transaction"] = store.post(
        None,
        charge["id"],
        amount=amount,
        currency=currency,
        txn_type="charge",
        category="charge",
        fee_details=[
            {
                "amount": stripe_fee(amount),
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ],
        pending=True,
    )
    if data.get("transfer_data"):
        _destination_charge(store, charge, data)
    return charge


def _outcome(risk_level: str) -> Obj:
    return {
        **FIXTURES["charge"]["outcome"],
        "network_status": "approved_by_network",
        "risk_level": risk_level,
        "risk_score": RISK_SCORES[risk_level],
        "seller_message": "Payment complete.",
        "type": "authorized",
    }


def _card_details(fingerprint: str, amount: int) -> Obj:
    details: Obj = copy.deepcopy(FIXTURES["charge"]["payment_method_details"])
    details["card"].update(amount_authorized=amount, fingerprint=fingerprint)
    details["card"]["overcapture"]["maximum_amount_capturable"] = amount
    return details


def _destination_charge(store: Store, charge: Obj, data: Obj) -> None:
    destination = str(data["transfer_data"]["destination"])
    amount = int(data["transfer_data"].get("amount", charge["amount"]))
    currency = charge["currency"]
    transfer = store.create(
        "transfer",
        amount=amount,
        currency=currency,
        destination=destination,
        destination_payment=store.new_id("py"),
        source_transaction=charge["id"],
        transfer_group=charge["transfer_group"],
    )
    transfer["reversals"]["url"] = f"/v1/transfers/{transfer['id']}/reversals"
    transfer["balance_transaction"] = store.post(
        None,
        transfer["id"],
        amount=-amount,
        currency=currency,
        txn_type="transfer",
        category="transfer",
        pending=True,
    )
    fee = _fee_amount(data) or 0
    store.post(
        destination,
        transfer["destination_payment"],
        amount=amount,
        currency=currency,
        txn_type="payment",
        category="charge",
        fee_details=[_application_fee_detail(fee, currency)] if fee else [],
        pending=True,
    )
    charge.update(
        transfer=transfer["id"],
        transfer_data={
            "amount": data["transfer_data"].get("amount"),
            "destination": destination,
        },
    )
    if fee:
        charge["application_fee"] = _application_fee(store, charge, destination, fee)


def _application_fee_detail(fee: int, currency: str) -> Obj:
    return {
        "amount": fee,
        "application": PLATFORM_APPLICATION,
        "currency": currency,
        "description": "Application fee",
        "type": "application_fee",
    }


def _application_fee(store: Store, charge: Obj, account: str, amount: int) -> str:
    fee = store.create(
        "application_fee",
        account=account,
        amount=amount,
        amount_refunded=0,
        charge=charge["id"],
        currency=charge["currency"],
        fee_source={"charge": charge["id"], "type": "charge"},
        refunded=False,
    )
    fee["refunds"]["url"] = f"/v1/application_fees/{fee['id']}/refunds"
    fee["balance_transaction"] = store.post(
        None,
        fee["id"],
        amount=amount,
        currency=charge["currency"],
        txn_type="application_fee",
        category="platform_earning",
        pending=True,
    )
    return str(fee["id"])


def charge_of_session(store: Store, session_id: str) -> Obj:
    session = store.get("checkout.session", session_id)
    intent = store.find(id_of(session["payment_intent"])) or {}
    charge_id = id_of(intent.get("latest_charge"))
    if not charge_id:
        raise ApiError(400, f"Checkout Session {session_id} has no charge yet.")
    return store.get("charge", charge_id)
