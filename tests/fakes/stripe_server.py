"""A fake Stripe on loopback, for the real `stripe` library to talk to over HTTP.

localstripe has no Checkout and no Connect (TESTING.md), so this serves the part
of Stripe's API (version 2026-07-29.dahlia) Distribly uses, with Stripe's
semantics and object shapes from its published fixtures (stripe_fixtures.json,
from github.com/stripe/openapi, MIT):

  Checkout      POST /v1/checkout/sessions, GET …/{id}, GET …/{id}/line_items,
                POST …/{id}/expire
  Payments      GET /v1/payment_intents/{id}, GET /v1/charges/{id} (`refunds` only
                with expand[]=refunds), GET /v1/charges/{id}/refunds
  Refunds       POST /v1/refunds (reverse_transfer, refund_application_fee),
                GET /v1/refunds?charge=|payment_intent=, GET /v1/refunds/{id}
  Money         GET /v1/balance, GET /v1/balance_transactions[?source=|type=][/{id}],
                GET /v1/application_fees[?charge=][/{id}][/{id}/refunds],
                GET /v1/transfers[/{id}], POST|GET /v1/transfers/{id}/reversals
  Connect       POST /v1/accounts, GET|POST /v1/accounts/{id}, POST /v1/account_links,
                POST /v1/accounts/{id}/login_links, GET /v1/payouts[/{id}]
                (with `Stripe-Account: acct_…`, as that account)
  Disputes      GET /v1/disputes/{id}, POST /v1/disputes/{id} (evidence, submit),
                POST /v1/disputes/{id}/close, GET /v1/radar/early_fraud_warnings/{id}
  and the lists of those objects; stripe_api.py has the table.

Keys must be test keys (sk_test_…); idempotency keys are honoured as Stripe does
(same key and parameters: the first answer again; other parameters: 400). Money
is booked as balance transactions: Stripe's fee and destination charges in
stripe_payments.py, refunds and reversals in stripe_refunds.py, disputes in
stripe_disputes.py.

Tests play the buyer, the banks and Stripe's dashboard with the world helpers:
pay() / expire(), dashboard_refund(), open_dispute() / close_dispute(),
early_fraud_warning(), complete_onboarding(), payout(), settle(), and inject
failures with fail_next. In-process, with no webhook URL, they send nothing:
tests post events made with signed_event(). Given a webhook URL and secret (and
a Connect one for account.* and payout.* events), the helpers, the browser pages
(stripe_pages.py) and the API calls that cause events send them, signed with
Stripe's scheme: the helpers and pages before they return, API events just after
the answer.

Run on its own (until Ctrl-C), for the site in a browser:

  python -m tests.fakes.stripe_server --port 12111 \\
      --webhook-url http://127.0.0.1:8000/stripe/webhook/ --webhook-secret whsec_… \\
      [--connect-webhook-url URL --connect-webhook-secret whsec_…]

It prints the one setting to give the site (STRIPE_API_BASE=http://127.0.0.1:12111);
its dashboard is at that address too.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from . import stripe_connect as connect
from . import stripe_disputes as disputes
from . import stripe_payments as payments
from . import stripe_refunds as refunds
from .stripe_api import Request, dispatch
from .stripe_events import Delivery, Emit, Endpoint, build_event, deliver, signed_event
from .stripe_pages import serve_page
from .stripe_payments import DEFAULT_FINGERPRINT
from .stripe_store import API_VERSION, ApiError, Obj, Store

__all__ = ["ApiError", "FakeStripe", "main", "parse_form", "signed_event"]

logger = logging.getLogger("tests.fakes.stripe")
DEFAULT_PORT = 12111
INJECTED = {"error": {"type": "api_error", "message": "Injected failure"}}


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's deepObject form encoding (a[b][0][c]=1, a[]=1) back into nested
    dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part or str(len(node)), {})
        node[parts[-1] or str(len(node))] = value
    parsed: dict[str, Any] = _lists(root)
    return parsed


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


@dataclass(frozen=True)
class Answer:
    status: int
    body: Obj
    replayed: bool = False


@dataclass(frozen=True)
class _Saved:
    """The first answer to an idempotency key, and what it answered."""

    method: str
    path: str
    params: Obj
    answer: Answer


class FakeStripe:
    """The fake Stripe server. Use it as a context manager (it serves while inside).

    The objects are plain dicts in Stripe's shapes, by id: sessions, payment_intents,
    charges, refunds, balance_transactions, application_fees, transfers, accounts,
    payouts, disputes, early_fraud_warnings. `requests` holds every API call,
    `idempotency_keys` every POST's key, `deliveries` every webhook sent."""

    def __init__(
        self,
        *,
        port: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        connect_webhook_url: str | None = None,
        connect_webhook_secret: str | None = None,
    ) -> None:
        self.webhook = _endpoint(webhook_url, webhook_secret)
        self.connect_webhook = _endpoint(connect_webhook_url, connect_webhook_secret)
        self.server = _Server(port, self)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.store = Store(self.url)
        objects = self.store.objects
        self.sessions = objects["checkout.session"]
        self.payment_intents = objects["payment_intent"]
        self.charges = objects["charge"]
        self.refunds = objects["refund"]
        self.balance_transactions = objects["balance_transaction"]
        self.application_fees = objects["application_fee"]
        self.transfers = objects["transfer"]
        self.accounts = objects["account"]
        self.payouts = objects["payout"]
        self.disputes = objects["dispute"]
        self.early_fraud_warnings = objects["radar.early_fraud_warning"]
        self.requests: list[tuple[str, str, Obj]] = []
        self.idempotency_keys: list[tuple[str, str, str]] = []
        self.deliveries: list[Delivery] = []
        self.fail_next = 0
        self.lock = threading.RLock()
        self._saved: dict[tuple[str | None, str], _Saved] = {}
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the buyer ------------------------------------------------------------------------
    def pay(
        self,
        session_id: str,
        *,
        payment_status: str = "paid",
        risk_level: str = "normal",
        fingerprint: str = DEFAULT_FINGERPRINT,
        email: str | None = None,
    ) -> Obj:
        """The buyer pays on Checkout ("unpaid": a delayed payment method, paid by a
        later pay()). Sends checkout.session.completed (.async_payment_succeeded)."""
        with self.lock:
            session, event = payments.session_pay(
                self.store,
                session_id,
                payment_status=payment_status,
                risk_level=risk_level,
                fingerprint=fingerprint,
                email=email,
            )
            session = copy.deepcopy(session)
        if event:
            self._notify(Emit(event, session))
        return session

    def expire(self, session_id: str) -> Obj:
        """The open session expires. Sends checkout.session.expired."""
        with self.lock:
            session = copy.deepcopy(payments.session_expire(self.store, session_id))
        self._notify(Emit("checkout.session.expired", session))
        return session

    def charge_for(self, session_id: str) -> Obj:
        with self.lock:
            return copy.deepcopy(payments.charge_of_session(self.store, session_id))

    # --- Stripe's dashboard and the banks ---------------------------------------------------
    def dashboard_refund(
        self,
        charge_id: str,
        amount: int,
        *,
        reverse_transfer: bool = False,
        refund_application_fee: bool = False,
    ) -> Obj:
        """Someone refunds in Stripe's dashboard. Sends charge.refunded."""
        with self.lock:
            charge = self.store.get("charge", charge_id)
            refund = refunds.refund_create(
                self.store,
                charge,
                amount=amount,
                reverse_transfer=reverse_transfer,
                refund_application_fee=refund_application_fee,
            )
            refund, charge = copy.deepcopy(refund), copy.deepcopy(charge)
        self._notify(Emit("charge.refunded", charge))
        return refund

    def open_dispute(self, charge_id: str, *, reason: str = "fraudulent") -> Obj:
        """The card holder disputes the charge. Sends charge.dispute.created."""
        with self.lock:
            dispute = copy.deepcopy(
                disputes.dispute_open(self.store, charge_id, reason)
            )
        self._notify(Emit("charge.dispute.created", dispute))
        return dispute

    def close_dispute(self, dispute_id: str, status: str = "won") -> Obj:
        """The bank decides ("won" or "lost"). Sends charge.dispute.closed."""
        with self.lock:
            dispute = copy.deepcopy(
                disputes.dispute_close(self.store, dispute_id, status)
            )
        self._notify(Emit("charge.dispute.closed", dispute))
        return dispute

    def early_fraud_warning(
        self,
        charge_id: str,
        *,
        actionable: bool = True,
        fraud_type: str = "made_with_stolen_card",
    ) -> Obj:
        """The card network warns of fraud. Sends radar.early_fraud_warning.created."""
        with self.lock:
            warning = copy.deepcopy(
                disputes.early_fraud_warning_create(
                    self.store, charge_id, actionable=actionable, fraud_type=fraud_type
                )
            )
        self._notify(Emit("radar.early_fraud_warning.created", warning))
        return warning

    # --- sellers (Connect) --------------------------------------------------------------------
    def complete_onboarding(
        self, account_id: str, *, payouts_enabled: bool = True
    ) -> Obj:
        """The seller completes Stripe's onboarding. Sends account.updated (Connect)."""
        with self.lock:
            account, previous = connect.complete_onboarding(
                self.store, account_id, payouts_enabled=payouts_enabled
            )
            account = copy.deepcopy(account)
        self._notify(
            Emit("account.updated", account, account_id, copy.deepcopy(previous))
        )
        return account

    def payout(
        self, account_id: str, amount: int, currency: str, *, status: str = "paid"
    ) -> Obj:
        """Stripe pays the seller's available balance out to their bank, or fails to
        ("failed": the money comes back). Sends payout.paid or payout.failed (Connect)."""
        with self.lock:
            payout = copy.deepcopy(
                connect.payout_create(
                    self.store, account_id, amount, currency, status=status
                )
            )
        self._notify(Emit(f"payout.{status}", payout, account_id))
        return payout

    def settle(self, account_id: str | None = None) -> Obj:
        """Pending funds of the account (None: the platform) become available; its
        balance."""
        with self.lock:
            self.store.settle(account_id)
            return connect.balance(self.store, account_id)

    # --- what tests look at --------------------------------------------------------------------
    def calls(self, method: str, path_prefix: str) -> list[Obj]:
        return [
            params
            for m, path, params in self.requests
            if m == method and path.startswith(path_prefix)
        ]

    # --- serving --------------------------------------------------------------------------------
    def api(self, request: Request, idempotency_key: str) -> Answer:
        with self.lock:
            self.requests.append((request.method, request.path, request.params))
            if request.method == "POST" and idempotency_key:
                self.idempotency_keys.append(
                    (request.method, request.path, idempotency_key)
                )
            if self.fail_next > 0:
                self.fail_next -= 1
                return Answer(500, INJECTED)
            saved = self._saved.get((request.account, idempotency_key))
            if request.method == "POST" and saved is not None:
                return _replay(saved, request, idempotency_key)
            status, body, events = dispatch(self.store, request)
            answer = Answer(status, body)
            if request.method == "POST" and idempotency_key and status == 200:
                self._saved[(request.account, idempotency_key)] = _Saved(
                    request.method,
                    request.path,
                    request.params,
                    Answer(status, body, True),
                )
        if events and (self.webhook or self.connect_webhook):
            threading.Thread(target=self._notify, args=events, daemon=True).start()
        return answer

    def _notify(self, *emits: Emit) -> None:
        """Send the events to the endpoint for them, if there is one."""
        for emit in emits:
            endpoint = self.connect_webhook if emit.account else self.webhook
            if endpoint is None:
                continue
            event = build_event(
                emit.type, emit.obj, account=emit.account, previous=emit.previous
            )
            status = deliver(endpoint, event)
            self.deliveries.append(
                Delivery(event["id"], emit.type, endpoint.url, status)
            )


def _endpoint(url: str | None, secret: str | None) -> Endpoint | None:
    if bool(url) != bool(secret):
        raise ValueError(
            "a webhook URL needs its signing secret, and the other way round"
        )
    return Endpoint(url, secret) if url and secret else None


def _replay(saved: _Saved, request: Request, key: str) -> Answer:
    if (saved.method, saved.path, saved.params) == (
        request.method,
        request.path,
        request.params,
    ):
        return saved.answer
    return Answer(
        400,
        {
            "error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the "
                "same parameters they were first used with. Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
            }
        },
    )


class _Server(ThreadingHTTPServer):
    def __init__(self, port: int, fake: FakeStripe) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeStripe/1.0"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            self._answer(method)
        except (
            Exception
        ) as e:  # a bug of the fake: a 500 rather than a dropped connection
            logger.exception("%s %s", method, self.path)
            body = {
                "error": {"type": "api_error", "message": f"Fake Stripe bug: {e!r}"}
            }
            self._send(500, "application/json", json.dumps(body).encode(), {})

    def _answer(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if path.startswith("/v1/"):
            self._api(method, path, {**parse_form(query), **parse_form(body)})
            return
        page = serve_page(
            self.server.fake, method, path, parse_form(query), parse_form(body)
        )
        location = {"Location": page.location} if page.location else {}
        self._send(page.status, "text/html; charset=utf-8", page.body, location)

    def _api(self, method: str, path: str, params: Obj) -> None:
        key = self.headers.get("Idempotency-Key", "")
        request = Request(
            method,
            path,
            params,
            authorization=self.headers.get("Authorization", ""),
            account=self.headers.get("Stripe-Account") or None,
        )
        answer = self.server.fake.api(request, key)
        headers = {
            "Request-Id": f"req_{time.time_ns()}",
            "Stripe-Version": self.headers.get("Stripe-Version") or API_VERSION,
        }
        if key:
            headers["Idempotency-Key"] = key
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        payload = json.dumps(answer.body).encode()
        self._send(answer.status, "application/json", payload, headers)

    def _send(
        self, status: int, content_type: str, payload: bytes, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s fake stripe: %(message)s",
        stream=sys.stderr,
    )
    fake = FakeStripe(
        port=args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        connect_webhook_url=args.connect_webhook_url,
        connect_webhook_secret=args.connect_webhook_secret,
    )
    with fake:
        print(f"STRIPE_API_BASE={fake.url}", flush=True)
        logger.info("dashboard at %s/ (Ctrl-C stops it)", fake.url)
        try:
            fake.thread.join()
        except KeyboardInterrupt:
            logger.info("stopped")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.stripe_server",
        description="A fake Stripe API (test mode, no money moves) on 127.0.0.1, with "
        "Checkout, Connect onboarding and dashboard pages that send signed webhooks.",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="default %(default)s"
    )
    parser.add_argument("--webhook-url", help="the site's Stripe webhook endpoint")
    parser.add_argument("--webhook-secret", help="its signing secret (whsec_…)")
    parser.add_argument(
        "--connect-webhook-url", help="the site's Connect webhook endpoint"
    )
    parser.add_argument("--connect-webhook-secret", help="its signing secret (whsec_…)")
    args = parser.parse_args(argv)
    for name in ("webhook", "connect_webhook"):
        if bool(getattr(args, f"{name}_url")) != bool(getattr(args, f"{name}_secret")):
            flag = name.replace("_", "-")
            parser.error(f"--{flag}-url and --{flag}-secret go together")
    return args


if __name__ == "__main__":
    main()
