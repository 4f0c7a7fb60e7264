"""The fake Stripe server through the real `stripe` library: object shapes, Stripe's
semantics, the money of destination charges and refunds, webhooks, the browser
pages and the runnable mode. No database."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import stripe

from tests.fakes.stripe_server import ApiError, FakeStripe, parse_form, signed_event

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_fake_platform"
CONNECT_SECRET = "whsec_fake_connect"
BANNER = "Fake Stripe — test mode, no money moves"


# --- fixtures and helpers -------------------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


def client_for(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_x", base_addresses={"api": url}, max_network_retries=0
    )


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return client_for(fake.url)


def session_params(
    unit_amount: int = 1000,
    quantity: int = 1,
    *,
    destination: str | None = None,
    fee: int | None = None,
) -> SessionCreateParams:
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": unit_amount,
                    "product_data": {"name": "Licence key"},
                },
                "quantity": quantity,
            }
        ],
        "customer_email": "buyer@example.com",
        "metadata": {"order_id": "17"},
        "expires_at": int(time.time()) + 31 * 60,
        "success_url": "http://shop.test/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://shop.test/cancelled",
    }
    params["payment_intent_data"] = {"metadata": {"order_id": "17"}}
    if destination:
        params["payment_intent_data"]["transfer_data"] = {"destination": destination}
    if fee is not None:
        params["payment_intent_data"]["application_fee_amount"] = fee
    return params


def seller(client: stripe.StripeClient, fake: FakeStripe) -> str:
    """An onboarded Express account that can receive transfers."""
    account = client.v1.accounts.create(
        params={
            "type": "express",
            "country": "FR",
            "email": "seller@example.com",
            "capabilities": {"transfers": {"requested": True}},
        }
    )
    fake.complete_onboarding(account.id)
    return account.id


def paid_charge(
    client: stripe.StripeClient, fake: FakeStripe, params: SessionCreateParams
) -> dict[str, Any]:
    session = client.v1.checkout.sessions.create(params=params)
    fake.pay(session.id)
    return fake.charge_for(session.id)


def request(
    method: str, url: str, fields: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Status, Location and body, without following redirects (as a browser form)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=30
    )
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body = urllib.parse.urlencode(fields or {})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    connection.request(method, target, body if fields is not None else None, headers)
    response = connection.getresponse()
    answer = (
        response.status,
        response.getheader("Location") or "",
        response.read().decode(),
    )
    connection.close()
    return answer


class _Hook(BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            (self.path, body, self.headers.get("Stripe-Signature", ""))
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Hooks(ThreadingHTTPServer):
    """A tiny webhook endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hook)
        self.received: list[tuple[str, bytes, str]] = []
        self.url = f"http://127.0.0.1:{self.server_port}"

    def events(self, path: str, secret: str, count: int = 1) -> list[Any]:
        """The events posted to `path`, verified as the app verifies them (waits for
        `count` of them: API calls send theirs just after answering)."""
        deadline = time.monotonic() + 5
        while len(self._at(path)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [
            stripe.Webhook.construct_event(body, header, secret)
            for body, header in self._at(path)
        ]

    def _at(self, path: str) -> list[tuple[bytes, str]]:
        return [(body, header) for p, body, header in self.received if p == path]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sending(hooks: Hooks) -> Iterator[FakeStripe]:
    """The fake, in-process, sending its events to `hooks`."""
    with FakeStripe(
        webhook_url=f"{hooks.url}/platform",
        webhook_secret=SECRET,
        connect_webhook_url=f"{hooks.url}/connect",
        connect_webhook_secret=CONNECT_SECRET,
    ) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- Checkout and payments ------------------------------------------------------------------
def test_a_session_has_stripes_shape_and_no_payment_intent_until_paid(
    client: stripe.StripeClient,
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(1234, 2))
    assert session.object == "checkout.session"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency) == (2468, "eur")
    assert session.payment_intent is None
    assert session.to_dict()["metadata"] == {"order_id": "17"}
    assert session.url is not None
    assert session.url.endswith(f"/pay/{session.id}")
    items = client.v1.checkout.sessions.line_items.list(session.id)
    [item] = items.data
    assert (item.quantity, item.amount_total, item.description) == (
        2,
        2468,
        "Licence key",
    )
    assert item.price is not None
    assert item.price.unit_amount == 1234


def test_paying_creates_the_payment_intent_and_the_charge(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(999))
    fake.pay(session.id, risk_level="elevated", fingerprint="fp_x")
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert isinstance(session.payment_intent, str)

    intent = client.v1.payment_intents.retrieve(session.payment_intent)
    assert intent.status == "succeeded"
    assert isinstance(intent.latest_charge, str)
    expanded = client.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge"]}
    ).to_dict()
    charge = expanded["latest_charge"]
    assert charge["id"] == intent.latest_charge
    assert charge["payment_intent"] == intent.id
    assert charge["outcome"]["risk_level"] == "elevated"
    assert charge["payment_method_details"]["card"]["fingerprint"] == "fp_x"
    assert charge["billing_details"]["email"] == "buyer@example.com"
    assert charge["metadata"] == {"order_id": "17"}
    assert "refunds" not in charge  # only with expand[]=refunds since 2022-11-15

    txn = client.v1.balance_transactions.retrieve(charge["balance_transaction"])
    # 2.9 % of 999 = 28.97, + 30 → 59
    assert (txn.amount, txn.fee, txn.net) == (999, 59, 940)
    assert (txn.type, txn.reporting_category, txn.source) == (
        "charge",
        "charge",
        charge["id"],
    )


def test_expand_refunds_on_a_charge(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    charge = paid_charge(client, fake, session_params())
    fake.dashboard_refund(charge["id"], 100)
    plain = client.v1.charges.retrieve(charge["id"]).to_dict()
    assert "refunds" not in plain
    assert (plain["amount_refunded"], plain["refunded"], plain["disputed"]) == (
        100,
        False,
        False,
    )
    expanded = client.v1.charges.retrieve(charge["id"], params={"expand": ["refunds"]})
    assert expanded.refunds is not None
    assert [r.amount for r in expanded.refunds.data] == [100]


def test_an_expired_session_cannot_be_paid(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(ApiError):
        fake.pay(session.id)


def test_a_destination_needs_an_account_that_can_receive_transfers(
    client: stripe.StripeClient,
) -> None:
    account = client.v1.accounts.create(
        params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(
            params=session_params(destination=account.id)
        )
    assert refused.value.code == "insufficient_capabilities_for_transfer"


def test_a_destination_charge_transfers_and_collects_the_fee(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    acct = seller(client, fake)
    charge = paid_charge(client, fake, session_params(3000, destination=acct, fee=300))
    assert charge["transfer_data"]["destination"] == acct
    assert charge["application_fee_amount"] == 300

    fee = client.v1.application_fees.retrieve(charge["application_fee"])
    assert (fee.amount, fee.amount_refunded, fee.refunded) == (300, 0, False)
    assert (fee.charge, fee.account, fee.currency) == (charge["id"], acct, "eur")
    listed = client.v1.application_fees.list(params={"charge": charge["id"]})
    assert [f.id for f in listed.data] == [fee.id]

    transfer = client.v1.transfers.retrieve(charge["transfer"])
    # Stripe transfers the whole charge; the fee comes back as the Application Fee.
    assert (transfer.amount, transfer.amount_reversed) == (3000, 0)
    assert (transfer.destination, transfer.source_transaction) == (acct, charge["id"])

    balance = client.v1.balance.retrieve(options={"stripe_account": acct})
    assert [(b.amount, b.currency) for b in balance.pending] == [(2700, "eur")]
    assert [b.amount for b in balance.available] == [0]


def test_refunds_reverse_the_transfer_and_the_fee_proportionally(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    acct = seller(client, fake)
    charge = paid_charge(client, fake, session_params(1000, destination=acct, fee=123))
    shares = []
    for amount in (333, 667):
        refund = client.v1.refunds.create(
            params={
                "charge": charge["id"],
                "amount": amount,
                "reverse_transfer": True,
                "refund_application_fee": True,
            }
        )
        transfer = client.v1.transfers.retrieve(charge["transfer"])
        fee = client.v1.application_fees.retrieve(charge["application_fee"])
        shares.append((transfer.amount_reversed, fee.amount_refunded))
        assert refund.transfer_reversal == transfer.reversals.data[0].id
    # 123 * 333 / 1000 = 40.96, so 41; the rest (82) with the refund that completes it
    assert shares == [(333, 41), (1000, 123)]
    assert client.v1.transfers.retrieve(charge["transfer"]).reversed is True
    assert (
        client.v1.application_fees.retrieve(charge["application_fee"]).refunded is True
    )
    balance = client.v1.balance.retrieve(options={"stripe_account": acct})
    # the seller had 1000 - 123 pending, and gave back 1000 - 123 at once
    assert [(b.amount) for b in balance.pending] == [877]
    assert [(b.amount) for b in balance.available] == [-877]


def test_a_transfer_reversal_takes_the_sellers_share_back(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    acct = seller(client, fake)
    charge = paid_charge(client, fake, session_params(2000, destination=acct, fee=200))
    reversal = client.v1.transfers.reversals.create(
        charge["transfer"], params={"amount": 500, "refund_application_fee": True}
    )
    assert (reversal.amount, reversal.transfer, reversal.source_refund) == (
        500,
        charge["transfer"],
        None,
    )
    assert client.v1.transfers.retrieve(charge["transfer"]).amount_reversed == 500
    # 200 * 500 / 2000 = 50 of the fee goes back with a quarter of the transfer
    assert (
        client.v1.application_fees.retrieve(charge["application_fee"]).amount_refunded
        == 50
    )
    listed = client.v1.transfers.reversals.list(charge["transfer"])
    assert [r.id for r in listed.data] == [reversal.id]
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.transfers.reversals.create(
            charge["transfer"], params={"amount": 1501}
        )
    assert too_much.value.param == "amount"
    balance = client.v1.balance.retrieve(options={"stripe_account": acct})
    assert [b.amount for b in balance.pending] == [1800]
    assert [b.amount for b in balance.available] == [-450]


def test_refunds_follow_stripes_rules(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    charge = paid_charge(client, fake, session_params(1000))
    intent = charge["payment_intent"]
    first = client.v1.refunds.create(
        params={"payment_intent": intent, "amount": 400, "metadata": {"ours": "1"}}
    )
    assert (first.status, first.charge, first.payment_intent) == (
        "succeeded",
        charge["id"],
        intent,
    )
    assert first.to_dict()["metadata"] == {"ours": "1"}
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 601})
    assert too_much.value.param == "amount"
    second = client.v1.refunds.create(params={"payment_intent": intent})  # the rest
    assert second.amount == 600
    with pytest.raises(stripe.InvalidRequestError) as nothing_left:
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 1})
    assert nothing_left.value.code == "charge_already_refunded"

    by_charge = client.v1.refunds.list(params={"charge": charge["id"]})
    assert [r.id for r in by_charge.data] == [second.id, first.id]  # newest first
    assert (by_charge.to_dict()["object"], by_charge.has_more, by_charge.url) == (
        "list",
        False,
        "/v1/refunds",
    )
    page = client.v1.refunds.list(params={"payment_intent": intent, "limit": 1})
    assert ([r.id for r in page.data], page.has_more) == ([second.id], True)
    assert [r.id for r in page.auto_paging_iter()] == [second.id, first.id]
    assert client.v1.refunds.retrieve(first.id).amount == 400

    refunds = client.v1.balance_transactions.list(params={"type": "refund"})
    assert sorted(t.amount for t in refunds.data) == [-600, -400]


def test_a_replayed_idempotency_key_answers_the_first_answer(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    charge = paid_charge(client, fake, session_params(1000))
    params: Any = {"charge": charge["id"], "amount": 100}
    first = client.v1.refunds.create(params=params, options={"idempotency_key": "k-1"})
    again = client.v1.refunds.create(params=params, options={"idempotency_key": "k-1"})
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert client.v1.charges.retrieve(charge["id"]).amount_refunded == 100
    with pytest.raises(stripe.IdempotencyError):
        client.v1.refunds.create(
            params={"charge": charge["id"], "amount": 200},
            options={"idempotency_key": "k-1"},
        )
    assert fake.idempotency_keys.count(("POST", "/v1/refunds", "k-1")) == 3


# --- Connect ---------------------------------------------------------------------------------
def test_a_new_account_cannot_receive_anything_yet(client: stripe.StripeClient) -> None:
    account = client.v1.accounts.create(
        params={
            "type": "express",
            "country": "FR",
            "email": "s@example.com",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"user_id": "7"},
        }
    )
    assert account.id.startswith("acct_")
    assert (account.type, account.country, account.default_currency) == (
        "express",
        "FR",
        "eur",
    )
    assert (
        account.charges_enabled,
        account.payouts_enabled,
        account.details_submitted,
    ) == (
        False,
        False,
        False,
    )
    assert account.requirements is not None
    assert "external_account" in (account.requirements.currently_due or [])
    updated = client.v1.accounts.update(
        account.id, params={"metadata": {"user_id": "", "plan": "pro"}}
    )
    assert updated.to_dict()["metadata"] == {"plan": "pro"}
    assert client.v1.accounts.retrieve(account.id).to_dict()["metadata"] == {
        "plan": "pro"
    }


def test_account_links_are_new_each_time_and_short_lived(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    account = client.v1.accounts.create(params={"type": "express"})
    params: Any = {
        "account": account.id,
        "refresh_url": "http://shop.test/refresh",
        "return_url": "http://shop.test/return",
        "type": "account_onboarding",
    }
    first = client.v1.account_links.create(params=params)
    second = client.v1.account_links.create(params=params)
    assert first.url != second.url
    assert first.url.startswith(f"{fake.url}/connect/onboard/{account.id}?link=")
    assert 290 <= first.expires_at - time.time() <= 300
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.accounts.login_links.create(account.id)  # not onboarded yet


def test_balance_payouts_and_login_link_of_an_onboarded_seller(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    acct = seller(client, fake)
    paid_charge(client, fake, session_params(5000, destination=acct, fee=500))
    assert client.v1.accounts.login_links.create(acct).url == (
        f"{fake.url}/connect/dashboard/{acct}"
    )
    with pytest.raises(ApiError, match="insufficient funds"):
        fake.payout(acct, 100, "eur")  # nothing available yet
    fake.settle(acct)
    paid = fake.payout(acct, 4000, "eur")
    failed = fake.payout(acct, 500, "eur", status="failed")
    assert failed["failure_message"]
    options: Any = {"stripe_account": acct}
    payouts = client.v1.payouts.list(params={"limit": 10}, options=options)
    assert [(p.id, p.status) for p in payouts.data] == [
        (failed["id"], "failed"),
        (paid["id"], "paid"),
    ]
    assert client.v1.payouts.retrieve(paid["id"], options=options).arrival_date
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payouts.retrieve(paid["id"])  # the platform's own payouts: none
    balance = client.v1.balance.retrieve(options=options)
    assert [(b.amount, b.currency) for b in balance.available] == [(500, "eur")]
    platform = client.v1.balance.retrieve()
    assert [b.amount for b in platform.pending] == [500 - (145 + 30)]


# --- disputes, fraud warnings and the books ---------------------------------------------------
def test_a_dispute_withdraws_the_money_and_takes_evidence(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    charge = paid_charge(client, fake, session_params(2000))
    opened = fake.open_dispute(charge["id"])
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert (dispute.status, dispute.amount, dispute.charge) == (
        "needs_response",
        2000,
        charge["id"],
    )
    assert (dispute.evidence_details.due_by or 0) > time.time()
    assert client.v1.charges.retrieve(charge["id"]).disputed is True
    [withdrawal] = client.v1.balance_transactions.list(
        params={"source": dispute.id}
    ).data
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-2000, 1500, -3500)
    assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"charge": charge["id"]})
    assert refused.value.code == "charge_disputed"

    staged = client.v1.disputes.update(
        dispute.id,
        params={"evidence": {"product_description": "A licence key"}, "submit": False},
    )
    assert staged.status == "needs_response"
    assert (
        fake.disputes[dispute.id]["evidence"]["product_description"] == "A licence key"
    )
    submitted = client.v1.disputes.update(
        dispute.id, params={"evidence": {"customer_email_address": "b@example.com"}}
    )
    assert submitted.status == "under_review"
    assert submitted.evidence_details.submission_count == 1
    assert submitted.evidence.product_description == "A licence key"

    assert fake.close_dispute(dispute.id, "won")["status"] == "won"
    money_back = client.v1.balance_transactions.list(
        params={"source": dispute.id}
    ).data[0]
    assert (money_back.amount, money_back.net, money_back.reporting_category) == (
        2000,
        3500,
        "dispute_reversal",
    )


def test_an_early_fraud_warning(client: stripe.StripeClient, fake: FakeStripe) -> None:
    charge = paid_charge(client, fake, session_params())
    made = fake.early_fraud_warning(charge["id"], fraud_type="misc")
    warning = client.v1.radar.early_fraud_warnings.retrieve(made["id"])
    assert (warning.charge, warning.payment_intent) == (
        charge["id"],
        charge["payment_intent"],
    )
    assert (warning.actionable, warning.fraud_type) == (True, "misc")


def test_the_platform_books_add_up_per_charge(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    acct = seller(client, fake)
    charge = paid_charge(client, fake, session_params(1000, destination=acct, fee=100))
    client.v1.refunds.create(
        params={"charge": charge["id"], "amount": 500, "reverse_transfer": True}
    )
    sources = [charge["id"], charge["transfer"], charge["application_fee"]]
    sources += [
        r.id for r in client.v1.refunds.list(params={"charge": charge["id"]}).data
    ]
    sources += [
        r.id for r in client.v1.transfers.retrieve(charge["transfer"]).reversals.data
    ]
    nets = {
        t.type: t.net
        for source in sources
        for t in client.v1.balance_transactions.list(params={"source": source}).data
    }
    assert nets == {
        "charge": 1000 - 59,
        "transfer": -1000,
        "application_fee": 100,
        "refund": -500,
        "transfer_refund": 500,
    }
    balance = client.v1.balance.retrieve()
    total = sum(b.amount for b in balance.available) + sum(
        b.amount for b in balance.pending
    )
    assert total == sum(nets.values())


# --- Stripe's errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fetch",
    [
        lambda c: c.v1.charges.retrieve("ch_nope"),
        lambda c: c.v1.payment_intents.retrieve("pi_nope"),
        lambda c: c.v1.refunds.retrieve("re_nope"),
        lambda c: c.v1.checkout.sessions.retrieve("cs_nope"),
        lambda c: c.v1.accounts.retrieve("acct_nope"),
        lambda c: c.v1.disputes.retrieve("dp_nope"),
        lambda c: c.v1.transfers.retrieve("tr_nope"),
        lambda c: c.v1.balance_transactions.retrieve("txn_nope"),
        lambda c: c.v1.radar.early_fraud_warnings.retrieve("issfr_nope"),
    ],
)
def test_unknown_ids_are_resource_missing(
    client: stripe.StripeClient, fetch: Any
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        fetch(client)
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


def test_unknown_parameters_and_keys_are_refused(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    params: Any = {"charge": "ch_x", "colour": "red"}
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.refunds.create(params=params)
    assert unknown.value.code == "parameter_unknown"
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "sk_live_x", base_addresses={"api": fake.url}, max_network_retries=0
        ).v1.balance.retrieve()


def test_injected_failures_answer_500(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    fake.fail_next = 1
    with pytest.raises(stripe.APIError):
        client.v1.balance.retrieve()
    assert client.v1.balance.retrieve().object == "balance"
    assert len(fake.calls("GET", "/v1/balance")) == 2


def test_parse_form_reads_stripes_encoding() -> None:
    assert parse_form("a[b][0][c]=1&a[b][1][c]=2&e[]=x&e[]=y&m[k]=") == {
        "a": {"b": [{"c": "1"}, {"c": "2"}]},
        "e": ["x", "y"],
        "m": {"k": ""},
    }


# --- webhooks, pages, runnable mode -------------------------------------------------------------
def test_signed_events_verify_and_carry_the_connect_account() -> None:
    body, header = signed_event(
        "account.updated",
        {"id": "acct_1", "object": "account"},
        CONNECT_SECRET,
        account="acct_1",
    )
    event = stripe.Webhook.construct_event(body, header, CONNECT_SECRET)
    assert (event.type, event.account, event.data.object.id) == (
        "account.updated",
        "acct_1",
        "acct_1",
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, SECRET)


def test_helpers_and_api_calls_send_their_events(
    sending: FakeStripe, hooks: Hooks
) -> None:
    client = client_for(sending.url)
    session = client.v1.checkout.sessions.create(params=session_params())
    sending.pay(session.id)
    charge = sending.charge_for(session.id)
    sending.open_dispute(charge["id"])
    platform = hooks.events("/platform", SECRET, 2)
    assert [e.type for e in platform] == [
        "checkout.session.completed",
        "charge.dispute.created",
    ]
    assert platform[0].data.object.payment_status == "paid"
    assert "account" not in platform[0]

    other = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(other.id)  # sent just after the answer
    assert hooks.events("/platform", SECRET, 3)[2].type == "checkout.session.expired"
    deadline = time.monotonic() + 5  # the receiver answered; the fake records it next
    while len(sending.deliveries) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [d.status for d in sending.deliveries] == [200, 200, 200]


def test_onboarding_pages_and_connect_events(sending: FakeStripe, hooks: Hooks) -> None:
    client = client_for(sending.url)
    account = client.v1.accounts.create(
        params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    link = client.v1.account_links.create(
        params={
            "account": account.id,
            "refresh_url": "http://shop.test/refresh",
            "return_url": "http://shop.test/return",
            "type": "account_onboarding",
        }
    )
    status, _, page = request("GET", link.url)
    assert status == 200
    assert "Fake Stripe Express onboarding" in page
    assert BANNER in page
    assert request("GET", link.url)[:2] == (
        303,
        "http://shop.test/refresh",
    )  # used once

    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link.url).query)["link"][0]
    done = request(
        "POST",
        f"{sending.url}/connect/onboard/{account.id}",
        {"link": token, "action": "complete", "payouts_enabled": "on"},
    )
    assert done[:2] == (303, "http://shop.test/return")
    [updated] = hooks.events("/connect", CONNECT_SECRET)
    assert (updated.type, updated.account) == ("account.updated", account.id)
    assert updated.data.object.charges_enabled is True
    assert updated.data.previous_attributes.charges_enabled is False

    paid_charge(client, sending, session_params(1000, destination=account.id, fee=100))
    sending.settle(account.id)
    status, _, dashboard = request(
        "GET", f"{sending.url}/connect/dashboard/{account.id}"
    )
    assert status == 200
    assert "9.00 EUR" in dashboard
    assert (
        request(
            "POST",
            f"{sending.url}/connect/dashboard/{account.id}/payouts",
            {"amount": "900", "currency": "eur", "status": "failed"},
        )[0]
        == 303
    )
    payout_event = hooks.events("/connect", CONNECT_SECRET, 2)[1]
    assert (payout_event.type, payout_event.account) == ("payout.failed", account.id)


def test_dashboard_and_checkout_pages(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(1250, 2))
    assert session.url is not None
    status, _, page = request("GET", session.url)
    assert status == 200
    assert BANNER in page
    assert "25.00 EUR" in page
    assert "buyer@example.com" in page
    declined = request("POST", session.url, {"action": "decline"})
    assert declined[:2] == (303, "http://shop.test/cancelled")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert "expired" in request("GET", session.url)[2]
    assert request("GET", f"{fake.url}/pay/cs_nope")[0] == 404

    charge = paid_charge(client, fake, session_params())
    status, _, dashboard = request("GET", f"{fake.url}/")
    assert status == 200
    assert charge["id"] in dashboard
    assert session.id in dashboard
    refund = request(
        "POST", f"{fake.url}/dashboard/charges/{charge['id']}/refund", {"amount": "250"}
    )
    assert refund[:2] == (303, "/")
    assert fake.charges[charge["id"]]["amount_refunded"] == 250


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.stripe_server", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "--webhook-url" in result.stdout
    assert "--connect-webhook-secret" in result.stdout


def test_runnable_mode_pay_page_sends_a_verified_event(hooks: Hooks) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.stripe_server",
            f"--port={port}",
            f"--webhook-url={hooks.url}/platform",
            f"--webhook-secret={SECRET}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert (
            server.stdout.readline().strip()
            == f"STRIPE_API_BASE=http://127.0.0.1:{port}"
        )
        client = client_for(f"http://127.0.0.1:{port}")
        session = client.v1.checkout.sessions.create(params=session_params())
        assert session.url is not None
        paid = request("POST", session.url, {"action": "pay", "risk_level": "elevated"})
        assert paid[:2] == (303, f"http://shop.test/done?session={session.id}")
        [event] = hooks.events("/platform", SECRET)
        assert (event.type, event.data.object.id) == (
            "checkout.session.completed",
            session.id,
        )
        assert "complete" in request("GET", session.url)[2]
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=10)
    assert server.returncode == 0, errors
