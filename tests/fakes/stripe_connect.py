"""Connect: sellers' connected accounts, their onboarding, balances and payouts."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from .stripe_store import (
    DAY,
    FIXTURES,
    ApiError,
    Grant,
    Obj,
    Store,
    boolean,
    choice,
    integer,
    known,
    merge_metadata,
    now,
    required,
)

ACCOUNT_TYPES = ("express", "standard", "custom")
ACCOUNT_PARAMS = frozenset({
    "account_token", "bank_account", "business_profile", "business_type",
    "capabilities", "company", "controller", "country", "default_currency", "documents",
    "email", "expand", "external_account", "groups", "individual", "metadata",
    "settings", "tos_acceptance", "type",
})  # fmt: skip
ACCOUNT_UPDATE_PARAMS = frozenset({
    "business_profile", "business_type", "capabilities", "default_currency", "email",
    "expand", "metadata",
})  # fmt: skip
LINK_PARAMS = frozenset({
    "account", "collect", "collection_options", "expand", "refresh_url", "return_url",
    "type",
})  # fmt: skip
LINK_TYPES = ("account_onboarding", "account_update")
LINK_LIFETIME = 300
# What Stripe asks of a new individual seller before charges and payouts.
DUE = [
    "business_profile.mcc",
    "business_profile.url",
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
EURO = frozenset({
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU",
    "LV", "MT", "NL", "PT", "SI", "SK",
})  # fmt: skip
CURRENCIES = {
    "US": "usd",
    "GB": "gbp",
    "CA": "cad",
    "AU": "aud",
    "CH": "chf",
    "JP": "jpy",
}
PLATFORM_CURRENCY = "usd"
CONTROLLERS = {
    "express": {"dashboard": "express", "fees": "application", "collection": "stripe"},
    "custom": {"dashboard": "none", "fees": "application", "collection": "application"},
    "standard": {"dashboard": "full", "fees": "account", "collection": "stripe"},
}
FAILURE = ("account_closed", "The bank account has been closed.")


# --- accounts -----------------------------------------------------------------------------
def account_create(store: Store, params: Obj) -> Obj:
    known(params, ACCOUNT_PARAMS)
    account_type = _account_type(params)
    country = str(params.get("country", "US")).upper()
    requirements = {
        **FIXTURES["account"]["requirements"],
        "currently_due": list(DUE),
        "eventually_due": list(DUE),
        "past_due": list(DUE),
    }
    account = store.create(
        "account",
        type=account_type,
        country=country,
        email=params.get("email"),
        default_currency=CURRENCIES.get(country, "eur" if country in EURO else "usd"),
        business_type=params.get("business_type"),
        business_profile={
            **FIXTURES["account"]["business_profile"],
            **(params.get("business_profile") or {}),
        },
        capabilities=dict.fromkeys(_requested(params.get("capabilities")), "inactive"),
        charges_enabled=False,
        payouts_enabled=False,
        details_submitted=False,
        controller=_controller(account_type),
        metadata=merge_metadata({}, params.get("metadata", {})),
        requirements=requirements,
    )
    account["external_accounts"]["url"] = (
        f"/v1/accounts/{account['id']}/external_accounts"
    )
    return account


def _account_type(params: Obj) -> str:
    if "type" in params:
        return choice(params["type"], ACCOUNT_TYPES, "type")
    dashboard = ((params.get("controller") or {}).get("stripe_dashboard") or {}).get(
        "type"
    )
    for account_type, controller in CONTROLLERS.items():
        if dashboard and controller["dashboard"] == dashboard:
            return account_type
    raise ApiError(
        400, "Missing required param: type.", code="parameter_missing", param="type"
    )


def _requested(capabilities: Any) -> list[str]:
    if not capabilities:
        return []
    if not isinstance(capabilities, dict):
        raise ApiError(400, "Invalid object", param="capabilities")
    return [
        name
        for name, wish in capabilities.items()
        if boolean(
            (wish or {}).get("requested", False), f"capabilities[{name}][requested]"
        )
    ]


def _controller(account_type: str) -> Obj:
    controller = CONTROLLERS[account_type]
    return {
        "fees": {"payer": controller["fees"]},
        "is_controller": True,
        "losses": {
            "payments": "application" if account_type != "standard" else "stripe"
        },
        "requirement_collection": controller["collection"],
        "stripe_dashboard": {"type": controller["dashboard"]},
        "type": "application",
    }


def account_update(store: Store, account_id: str, params: Obj) -> tuple[Obj, Obj]:
    """The account and its previous attributes (what changed, as in account.updated)."""
    known(params, ACCOUNT_UPDATE_PARAMS)
    account = store.get("account", account_id)
    before = copy.deepcopy(account)
    if "metadata" in params:
        account["metadata"] = merge_metadata(account["metadata"], params["metadata"])
    for name in ("email", "business_type", "default_currency"):
        if name in params:
            account[name] = params[name]
    if params.get("business_profile"):
        account["business_profile"].update(params["business_profile"])
    for name in _requested(params.get("capabilities")):
        account["capabilities"].setdefault(name, "inactive")
    return account, changed(before, account)


def changed(before: Obj, after: Obj) -> Obj:
    return {key: before.get(key) for key in after if before.get(key) != after[key]}


def account_link_create(store: Store, params: Obj) -> Obj:
    """A fresh onboarding address for one visit, expiring in minutes."""
    known(params, LINK_PARAMS)
    account = store.get("account", required(params, "account"), param="account")
    choice(required(params, "type"), LINK_TYPES, "type")
    token = secrets.token_urlsafe(12)
    link = copy.deepcopy(FIXTURES["account_link"])
    link.update(
        created=now(),
        expires_at=now() + LINK_LIFETIME,
        url=f"{store.base_url}/connect/onboard/{account['id']}?link={token}",
    )
    store.grants[token] = Grant(
        account=account["id"],
        refresh_url=required(params, "refresh_url"),
        return_url=required(params, "return_url"),
        expires_at=link["expires_at"],
    )
    return link


def login_link_create(store: Store, account_id: str) -> Obj:
    """The Express dashboard's address (Express accounts that finished onboarding)."""
    account = store.get("account", account_id, param="account")
    if account["type"] != "express":
        raise ApiError(
            400,
            "Login links can only be created for Express accounts.",
            param="account",
        )
    if not account["details_submitted"]:
        raise ApiError(
            400,
            "Cannot create a login link for an account that has not completed "
            "onboarding.",
            param="account",
        )
    link = copy.deepcopy(FIXTURES["login_link"])
    link.update(created=now(), url=f"{store.base_url}/connect/dashboard/{account_id}")
    return link


def complete_onboarding(
    store: Store, account_id: str, *, payouts_enabled: bool
) -> tuple[Obj, Obj]:
    """The seller gives Stripe everything: the account and its previous attributes."""
    account = store.get("account", account_id)
    before = copy.deepcopy(account)
    account.update(
        details_submitted=True,
        charges_enabled=True,
        payouts_enabled=payouts_enabled,
        capabilities=dict.fromkeys(account["capabilities"], "active"),
        requirements={
            **FIXTURES["account"]["future_requirements"],
            "pending_verification": []
            if payouts_enabled
            else ["individual.verification.document"],
        },
        tos_acceptance={"date": now(), "ip": "127.0.0.1", "user_agent": "Fake Stripe"},
    )
    if not account["external_accounts"]["data"]:
        account["external_accounts"]["data"].append(_bank_account(store, account))
    return account, changed(before, account)


def _bank_account(store: Store, account: Obj) -> Obj:
    return {
        "id": store.new_id("ba"),
        "object": "bank_account",
        "account": account["id"],
        "bank_name": "STRIPE TEST BANK",
        "country": account["country"],
        "currency": account["default_currency"],
        "default_for_currency": True,
        "last4": "6789",
        "status": "new",
    }


def grant_for(store: Store, account_id: str, token: str) -> Grant | None:
    grant = store.grants.get(token)
    return grant if grant is not None and grant.account == account_id else None


def visit(grant: Grant) -> bool:
    """Whether the account link still opens: once, before it expires."""
    if grant.visited or grant.expires_at < now():
        return False
    grant.visited = True
    return True


# --- balances and payouts -----------------------------------------------------------------
def balance(store: Store, account_id: str | None) -> Obj:
    """Stripe's balance object of the platform (None) or of a connected account."""
    totals = store.totals(account_id)
    currencies = sorted(set(totals["available"]) | set(totals["pending"])) or [
        _currency_of(store, account_id)
    ]
    obj = copy.deepcopy(FIXTURES["balance"])
    for status in ("available", "pending"):
        obj[status] = [
            {
                "amount": totals[status].get(c, 0),
                "currency": c,
                "source_types": {"card": totals[status].get(c, 0)},
            }
            for c in currencies
        ]
    if account_id:
        del obj["connect_reserved"]
    else:
        obj["connect_reserved"] = [{"amount": 0, "currency": c} for c in currencies]
    return obj


def _currency_of(store: Store, account_id: str | None) -> str:
    if account_id is None:
        return PLATFORM_CURRENCY
    return str(store.get("account", account_id)["default_currency"])


def payout_create(
    store: Store, account_id: str, amount: int, currency: str, *, status: str
) -> Obj:
    """Stripe pays `amount` of the account's available balance to its bank account."""
    choice(status, ("paid", "failed"), "status")
    integer(amount, "amount", minimum=1)
    account = store.get("account", account_id)
    if not account["payouts_enabled"]:
        raise ApiError(400, f"Payouts are not enabled for account {account_id}.")
    available = store.totals(account_id)["available"].get(currency, 0)
    if amount > available:
        raise ApiError(
            400,
            "You have insufficient funds in your Stripe account for this transfer.",
            code="balance_insufficient",
        )
    payout = store.create(
        "payout",
        account_id,
        amount=amount,
        currency=currency,
        arrival_date=now() - now() % DAY,
        automatic=True,
        destination=account["external_accounts"]["data"][0]["id"],
        status=status,
        source_type="card",
    )
    payout["balance_transaction"] = store.post(
        account_id,
        payout["id"],
        amount=-amount,
        currency=currency,
        txn_type="payout",
        category="payout",
    )
    if status == "failed":
        _fail(store, account_id, payout)
    return payout


def _fail(store: Store, account_id: str, payout: Obj) -> None:
    payout.update(failure_code=FAILURE[0], failure_message=FAILURE[1])
    payout["failure_balance_transaction"] = store.post(
        account_id,
        payout["id"],
        amount=payout["amount"],
        currency=payout["currency"],
        txn_type="payout_failure",
        category="payout_reversal",
    )
