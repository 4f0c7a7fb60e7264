"""The fake Stripe's browser pages: plain server-rendered HTML, no external assets.

  GET  /                           the dashboard: sessions, charges, disputes,
                                   accounts, webhook deliveries; forms to refund,
                                   dispute, close a dispute, warn of fraud
  GET  /pay/{session}              Checkout: Pay (→ success_url) or Decline (→ cancel_url)
  GET  /connect/onboard/{acct}     Express onboarding, opened by an account link
  GET  /connect/dashboard/{acct}   the Express dashboard: balance, payouts

Every form is a POST (to the page's own address, a sub-path of it, or for the
dashboard /dashboard/…) and answers 303 See Other. The pages act through FakeStripe's world helpers, so they send
the same webhooks as the helpers do.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import stripe_connect as connect
from . import stripe_payments as payments
from .stripe_disputes import FRAUD_TYPES, OPEN, REASONS
from .stripe_store import ApiError, Obj, integer, money, now

if TYPE_CHECKING:
    from .stripe_server import FakeStripe

BANNER = "Fake Stripe — test mode, no money moves"
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;color:#1a1f36;max-width:64rem;margin:0 auto;padding:1rem}
.banner{background:#fff4d6;border:1px solid #e6b800;padding:.4rem .8rem;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #e3e8ee;padding:.3rem .5rem;text-align:left;vertical-align:top}
form{display:inline-block;margin:.1rem .4rem .1rem 0}
label{display:block;margin:.4rem 0}
button{background:#635bff;color:#fff;border:0;border-radius:4px;padding:.35rem .8rem;cursor:pointer}
button.secondary{background:#e3e8ee;color:#1a1f36}
input[type=number]{width:7rem}
.muted{color:#697386}
"""


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes = b""
    location: str | None = None


@dataclass(frozen=True)
class Form:
    query: Obj
    fields: Obj

    def get(self, name: str, default: str = "") -> str:
        return str(self.fields.get(name, default))

    def checked(self, name: str) -> bool:
        return name in self.fields


PageHandler = Callable[..., Page]


def serve_page(
    fake: FakeStripe, method: str, path: str, query: Obj, fields: Obj
) -> Page:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            try:
                return handler(fake, Form(query, fields), *match.groups())
            except ApiError as e:
                return _message(e.status, "Stripe refused", str(e))
    return _message(404, "Not found", f"The fake Stripe has no page at {path}.")


# --- HTML ---------------------------------------------------------------------------------
def e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _document(title: str, body: str, status: int = 200) -> Page:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · Fake Stripe</title><style>{STYLE}</style></head>"
        f'<body><p class="banner" role="note"><strong>{BANNER}</strong></p>'
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )
    return Page(status, text.encode())


def _message(status: int, title: str, text: str, link: str = "") -> Page:
    return _document(title, f"<p>{e(text)}</p>{link}", status)


def _redirect(url: str) -> Page:
    return Page(303, location=url)


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """Headers are text; cells are HTML already."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _form(action: str, inner: str, button: str, *, secondary: bool = False) -> str:
    css = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post" action="{e(action)}">{inner}'
        f"<button{css}>{e(button)}</button></form>"
    )


def _select(name: str, options: Iterable[str], label: str, selected: str = "") -> str:
    choices = "".join(
        f"<option{' selected' if o == selected else ''}>{e(o)}</option>"
        for o in options
    )
    return f'<label>{e(label)} <select name="{e(name)}">{choices}</select></label>'


def _checkbox(name: str, label: str, *, checked: bool = False) -> str:
    mark = " checked" if checked else ""
    return f'<label><input type="checkbox" name="{e(name)}"{mark}> {e(label)}</label>'


def _link(url: str, text: str) -> str:
    return f'<a href="{e(url)}">{e(text)}</a>'


# --- Checkout -------------------------------------------------------------------------------
def _checkout(fake: FakeStripe, form: Form, session_id: str) -> Page:
    with fake.lock:
        session = copy.deepcopy(fake.store.get("checkout.session", session_id))
        items = copy.deepcopy(payments.line_items(fake.store, session_id))
    if session["status"] == "open" and session["expires_at"] <= now():
        session = fake.expire(session_id)  # Stripe would have expired it already
    if session["status"] == "complete":
        link = _link(_success_url(session), "Back to the shop")
        return _message(200, "Payment complete", "This payment is complete.", link)
    if session["status"] == "expired":
        link = (
            _link(session["cancel_url"], "Back to the shop")
            if session["cancel_url"]
            else ""
        )
        return _message(
            200, "Session expired", "This Checkout Session has expired.", link
        )
    return _document("Checkout", _checkout_form(session, items))


def _checkout_form(session: Obj, items: list[Obj]) -> str:
    currency = session["currency"]
    rows = [
        [e(i["description"]), e(i["quantity"]), e(money(i["amount_total"], currency))]
        for i in items
    ]
    email = session["customer_email"] or ""
    readonly = " readonly" if email else ""
    fields = (
        _table(["Item", "Quantity", "Amount"], rows)
        + f"<p><strong>Total: {e(money(session['amount_total'], currency))}</strong></p>"
        + f'<label>Email <input type="email" name="email" value="{e(email)}" required{readonly}></label>'
        + _select("risk_level", payments.RISK_SCORES, "Radar risk level")
    )
    return (
        f'<form method="post" action="/pay/{e(session["id"])}">{fields}'
        '<button name="action" value="pay">Pay</button> '
        '<button name="action" value="decline" class="secondary" formnovalidate>'
        "Decline</button></form>"
    )


def _success_url(session: Obj) -> str:
    url = session["success_url"] or f"/pay/{session['id']}"
    return str(url).replace("{CHECKOUT_SESSION_ID}", session["id"])


def _checkout_submit(fake: FakeStripe, form: Form, session_id: str) -> Page:
    with fake.lock:
        status = fake.store.get("checkout.session", session_id)["status"]
    if status != "open":
        return _redirect(f"/pay/{session_id}")
    if form.get("action") == "pay":
        session = fake.pay(
            session_id,
            risk_level=form.get("risk_level", "normal"),
            email=form.get("email") or None,
        )
        return _redirect(_success_url(session))
    if form.get("action") == "decline":
        session = fake.expire(session_id)
        return _redirect(session["cancel_url"] or f"/pay/{session_id}")
    return _message(400, "Checkout", "Choose Pay or Decline.")


# --- Connect onboarding and the Express dashboard -------------------------------------------
def _onboard(fake: FakeStripe, form: Form, account_id: str) -> Page:
    token = str(form.query.get("link", ""))
    with fake.lock:
        grant = connect.grant_for(fake.store, account_id, token)
        opens = grant is not None and connect.visit(grant)
        account = copy.deepcopy(fake.store.get("account", account_id))
    if grant is None:
        return _message(404, "Link not valid", "This account link is not valid.")
    if not opens:
        return _redirect(grant.refresh_url)
    due = "".join(
        f"<li>{e(item)}</li>" for item in account["requirements"]["currently_due"]
    )
    body = (
        f"<p>Account <code>{e(account_id)}</code> ({e(account['email'])}, "
        f"{e(account['country'])}). Stripe still needs:</p><ul>{due}</ul>"
        f'<form method="post" action="/connect/onboard/{e(account_id)}">'
        f'<input type="hidden" name="link" value="{e(token)}">'
        + _checkbox(
            "payouts_enabled", "Bank account verified (payouts enabled)", checked=True
        )
        + '<button name="action" value="complete">Complete onboarding</button> '
        '<button name="action" value="later" class="secondary">Leave for later</button>'
        "</form>"
    )
    return _document("Fake Stripe Express onboarding", body)


def _onboard_submit(fake: FakeStripe, form: Form, account_id: str) -> Page:
    with fake.lock:
        grant = connect.grant_for(fake.store, account_id, form.get("link"))
    if grant is None or not grant.visited:
        return _message(404, "Link not valid", "This account link is not valid.")
    if form.get("action") == "complete":
        fake.complete_onboarding(
            account_id, payouts_enabled=form.checked("payouts_enabled")
        )
    return _redirect(grant.return_url)


def _express(fake: FakeStripe, form: Form, account_id: str) -> Page:
    with fake.lock:
        account = copy.deepcopy(fake.store.get("account", account_id))
        balance = connect.balance(fake.store, account_id)
        payouts = copy.deepcopy(fake.store.owned("payout", account_id))
    flags = ", ".join(
        f"{name}: {'yes' if account[name] else 'no'}"
        for name in ("details_submitted", "charges_enabled", "payouts_enabled")
    )
    balances = [
        [
            e(a["currency"]),
            e(money(a["amount"], a["currency"])),
            e(money(p["amount"], p["currency"])),
        ]
        for a, p in zip(balance["available"], balance["pending"], strict=True)
    ]
    rows = [
        [
            e(p["id"]),
            e(money(p["amount"], p["currency"])),
            e(p["status"]),
            e(p["failure_message"] or ""),
        ]
        for p in payouts
    ]
    here = f"/connect/dashboard/{account_id}"
    body = (
        f"<p>{e(account['email'])} · {e(flags)}</p><h2>Balance</h2>"
        + _table(["Currency", "Available", "Pending"], balances)
        + _form(f"{here}/settle", "", "Make pending funds available", secondary=True)
        + "<h2>Payouts</h2>"
        + _table(["Payout", "Amount", "Status", "Failure"], rows)
        + _form(f"{here}/payouts", _payout_fields(account), "Pay out")
    )
    return _document("Fake Stripe Express dashboard", body)


def _payout_fields(account: Obj) -> str:
    return (
        '<label>Amount (minor units) <input type="number" name="amount" min="1" required></label>'
        f'<label>Currency <input name="currency" value="{e(account["default_currency"])}" required></label>'
        + _select("status", ("paid", "failed"), "Outcome")
    )


def _express_payout(fake: FakeStripe, form: Form, account_id: str) -> Page:
    fake.payout(
        account_id,
        integer(form.get("amount"), "amount", minimum=1),
        form.get("currency").lower(),
        status=form.get("status", "paid"),
    )
    return _redirect(f"/connect/dashboard/{account_id}")


def _express_settle(fake: FakeStripe, form: Form, account_id: str) -> Page:
    fake.settle(account_id)
    return _redirect(f"/connect/dashboard/{account_id}")


# --- the dashboard --------------------------------------------------------------------------
def _dashboard(fake: FakeStripe, form: Form) -> Page:
    with fake.lock:
        store = fake.store
        body = (
            "<h2>Checkout Sessions</h2>"
            + _sessions(store.owned("checkout.session", None))
            + "<h2>Charges</h2>"
            + _charges(store.owned("charge", None))
            + "<h2>Disputes</h2>"
            + _disputes(store.owned("dispute", None))
            + "<h2>Connected accounts</h2>"
            + _accounts(store.owned("account", None))
            + "<h2>Webhook deliveries</h2>"
            + _deliveries(fake)
        )
    return _document("Fake Stripe dashboard", body)


def _sessions(sessions: list[Obj]) -> str:
    rows = [
        [
            _link(f"/pay/{s['id']}", s["id"]),
            e(s["status"]),
            e(s["payment_status"]),
            e(money(s["amount_total"], s["currency"])),
            e(s["customer_email"] or ""),
        ]
        for s in sessions
    ]
    return _table(["Session", "Status", "Payment", "Amount", "Email"], rows)


def _charges(charges: list[Obj]) -> str:
    rows = [
        [
            f'{e(c["id"])}<br><span class="muted">{e(c["payment_intent"])}</span>',
            e(money(c["amount"], c["currency"])),
            e(money(c["amount_refunded"], c["currency"])),
            e(c["outcome"]["risk_level"]),
            "disputed" if c["disputed"] else "",
            _charge_actions(c),
        ]
        for c in charges
    ]
    return _table(["Charge", "Amount", "Refunded", "Risk", "Dispute", "Actions"], rows)


def _charge_actions(charge: Obj) -> str:
    here = f"/dashboard/charges/{charge['id']}"
    left = charge["amount"] - charge["amount_refunded"]
    refund = (
        "<label>Amount (minor units) "
        f'<input type="number" name="amount" value="{left}" min="1" max="{left}" required>'
        "</label>"
    )
    if charge.get("transfer"):
        refund += _checkbox("reverse_transfer", "reverse transfer")
        refund += _checkbox("refund_application_fee", "refund application fee")
    actions = [_form(f"{here}/refund", refund, "Refund")] if left > 0 else []
    if not charge["disputed"]:
        actions.append(
            _form(
                f"{here}/dispute",
                _select("reason", REASONS, "Reason", "fraudulent"),
                "Open dispute",
            )
        )
    fraud = _select(
        "fraud_type", FRAUD_TYPES, "Fraud type", "made_with_stolen_card"
    ) + _checkbox("actionable", "actionable", checked=True)
    actions.append(_form(f"{here}/early_fraud_warning", fraud, "Early fraud warning"))
    return "".join(actions)


def _disputes(disputes: list[Obj]) -> str:
    rows = [
        [
            e(d["id"]),
            e(d["charge"]),
            e(d["reason"]),
            e(d["status"]),
            e(d["evidence_details"]["submission_count"]),
            _dispute_actions(d),
        ]
        for d in disputes
    ]
    return _table(
        ["Dispute", "Charge", "Reason", "Status", "Submissions", "Close"], rows
    )


def _dispute_actions(dispute: Obj) -> str:
    if dispute["status"] not in OPEN:
        return ""
    here = f"/dashboard/disputes/{dispute['id']}/close"
    return "".join(
        _form(
            here,
            f'<input type="hidden" name="status" value="{status}">',
            f"Close: {status}",
        )
        for status in ("won", "lost")
    )


def _accounts(accounts: list[Obj]) -> str:
    rows = [
        [
            _link(f"/connect/dashboard/{a['id']}", a["id"]),
            e(a["email"]),
            e(a["type"]),
            *(
                e("yes" if a[f] else "no")
                for f in ("details_submitted", "charges_enabled", "payouts_enabled")
            ),
        ]
        for a in accounts
    ]
    return _table(["Account", "Email", "Type", "Details", "Charges", "Payouts"], rows)


def _deliveries(fake: FakeStripe) -> str:
    rows = [
        [
            e(d.type),
            e(d.event_id),
            e(d.url),
            e(d.status if d.status is not None else "unreachable"),
        ]
        for d in reversed(fake.deliveries)
    ]
    return _table(["Event", "Id", "Endpoint", "Status"], rows)


def _refund(fake: FakeStripe, form: Form, charge_id: str) -> Page:
    fake.dashboard_refund(
        charge_id,
        integer(form.get("amount"), "amount", minimum=1),
        reverse_transfer=form.checked("reverse_transfer"),
        refund_application_fee=form.checked("refund_application_fee"),
    )
    return _redirect("/")


def _open_dispute(fake: FakeStripe, form: Form, charge_id: str) -> Page:
    fake.open_dispute(charge_id, reason=form.get("reason", "fraudulent"))
    return _redirect("/")


def _close_dispute(fake: FakeStripe, form: Form, dispute_id: str) -> Page:
    fake.close_dispute(dispute_id, form.get("status"))
    return _redirect("/")


def _early_fraud_warning(fake: FakeStripe, form: Form, charge_id: str) -> Page:
    fake.early_fraud_warning(
        charge_id,
        actionable=form.checked("actionable"),
        fraud_type=form.get("fraud_type", "made_with_stolen_card"),
    )
    return _redirect("/")


ID = r"/([A-Za-z0-9_]+)"
_TABLE: list[tuple[str, str, PageHandler]] = [
    ("GET", "/", _dashboard),
    ("GET", f"/pay{ID}", _checkout),
    ("POST", f"/pay{ID}", _checkout_submit),
    ("GET", f"/connect/onboard{ID}", _onboard),
    ("POST", f"/connect/onboard{ID}", _onboard_submit),
    ("GET", f"/connect/dashboard{ID}", _express),
    ("POST", f"/connect/dashboard{ID}/payouts", _express_payout),
    ("POST", f"/connect/dashboard{ID}/settle", _express_settle),
    ("POST", f"/dashboard/charges{ID}/refund", _refund),
    ("POST", f"/dashboard/charges{ID}/dispute", _open_dispute),
    ("POST", f"/dashboard/charges{ID}/early_fraud_warning", _early_fraud_warning),
    ("POST", f"/dashboard/disputes{ID}/close", _close_dispute),
]
ROUTES = [(method, re.compile(path), handler) for method, path, handler in _TABLE]
