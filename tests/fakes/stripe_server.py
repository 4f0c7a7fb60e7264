"""A small fake Stripe API on loopback, for the real `stripe` library to talk to over HTTP.

localstripe has no Checkout Sessions (TESTING.md), so this serves the few
endpoints Distribly uses, with object shapes from Stripe's published fixtures
(tests/fakes/stripe_fixtures.json, from github.com/stripe/openapi, MIT):

  POST /v1/checkout/sessions        GET /v1/checkout/sessions/{id}
  POST /v1/refunds                  GET /v1/charges/{id}

Idempotency keys are honoured like Stripe's (same key, same object). Tests
drive the buyer's side with pay() / expire(), and inject failures with fail_next.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

FIXTURES = json.loads((Path(__file__).with_name("stripe_fixtures.json")).read_text())
API_VERSION = "2026-07-29.dahlia"


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's deepObject form encoding (a[b][0][c]=1) back into nested dicts/lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
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

    # --- the buyer's side and Stripe's dashboard -------------------------------------
    def pay(self, session_id: str, *, payment_status: str = "paid") -> dict[str, Any]:
        with self.lock:
            s = self.sessions[session_id]
            s["status"] = "complete"
            s["payment_status"] = payment_status
            if payment_status == "paid":
                charge = copy.deepcopy(FIXTURES["charge"])
                charge.update(
                    id=f"ch_test_{next(self._ids)}",
                    amount=s["amount_total"],
                    amount_captured=s["amount_total"],
                    amount_refunded=0,
                    refunded=False,
                    currency=s["currency"],
                    payment_intent=s["payment_intent"],
                    refunds={
                        "object": "list",
                        "data": [],
                        "has_more": False,
                        "url": "/v1/refunds",
                    },
                )
                self.charges[charge["id"]] = charge
                s["_charge"] = charge["id"]
            return copy.deepcopy(s)

    def expire(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            self.sessions[session_id]["status"] = "expired"
            return copy.deepcopy(self.sessions[session_id])

    def dashboard_refund(self, charge_id: str, amount: int) -> dict[str, Any]:
        with self.lock:
            return self._refund(self.charges[charge_id], amount)

    def charge_for(self, session_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.charges[self.sessions[session_id]["_charge"]])

    def calls(self, method: str, path_prefix: str) -> list[dict[str, Any]]:
        return [
            p
            for m, path, p in self.requests
            if m == method and path.startswith(path_prefix)
        ]

    # --- the API --------------------------------------------------------------------
    def _refund(self, charge: dict[str, Any], amount: int) -> dict[str, Any]:
        refund = copy.deepcopy(FIXTURES["refund"])
        refund.update(
            id=f"re_test_{next(self._ids)}",
            amount=amount,
            charge=charge["id"],
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            status="succeeded",
        )
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        return refund

    def handle(
        self, method: str, path: str, params: dict[str, Any], key: str
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append((method, path, params))
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, {
                    "error": {"type": "api_error", "message": "Injected failure"}
                }
            if key and (method, path, key) in self.idempotent:
                return self.idempotent[(method, path, key)]
            result = self._route(method, path, params)
            if key:
                self.idempotent[(method, path, key)] = result
            return result

    def _route(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._create_session(params)
        if (
            method == "GET"
            and parts[:3] == ["v1", "checkout", "sessions"]
            and len(parts) == 4
        ):
            s = self.sessions.get(parts[3])
            return (200, _public(s)) if s else _missing("checkout.session", parts[3])
        if method == "GET" and parts[:2] == ["v1", "charges"] and len(parts) == 3:
            c = self.charges.get(parts[2])
            return (200, c) if c else _missing("charge", parts[2])
        if method == "POST" and path == "/v1/refunds":
            charge = next(
                (
                    c
                    for c in self.charges.values()
                    if c["payment_intent"] == params.get("payment_intent")
                ),
                None,
            )
            if charge is None:
                return _missing("payment_intent", str(params.get("payment_intent")))
            amount = int(
                params.get("amount") or charge["amount"] - charge["amount_refunded"]
            )
            if amount > charge["amount"] - charge["amount_refunded"]:
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Refund exceeds charge",
                    }
                }
            return 200, self._refund(charge, amount)
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path})",
            }
        }

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        s = copy.deepcopy(FIXTURES["checkout.session"])
        items = params["line_items"]
        total = sum(
            int(i["price_data"]["unit_amount"]) * int(i["quantity"]) for i in items
        )
        s.update(
            id=f"cs_test_{n}",
            url=f"{self.url}/pay/cs_test_{n}",
            amount_total=total,
            amount_subtotal=total,
            currency=items[0]["price_data"]["currency"],
            metadata=params.get("metadata", {}),
            client_reference_id=params.get("client_reference_id"),
            customer_email=params.get("customer_email"),
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            expires_at=int(params["expires_at"]),
            status="open",
            payment_status="unpaid",
            payment_intent=f"pi_test_{n}",
            mode="payment",
        )
        self.sessions[s["id"]] = s
        return _public(s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path, _, query = self.path.partition("?")
                params = parse_form(body or query)
                status, data = fake.handle(
                    method, path, params, self.headers.get("Idempotency-Key", "")
                )
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", f"req_{time.time_ns()}")
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _public(session: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in copy.deepcopy(session).items() if not k.startswith("_")}


def _missing(kind: str, ident: str) -> tuple[int, dict[str, Any]]:
    return 404, {
        "error": {
            "type": "invalid_request_error",
            "message": f"No such {kind}: '{ident}'",
        }
    }


def signed_event(
    event_type: str,
    obj: dict[str, Any],
    secret: str,
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, str]:
    """An event shaped like Stripe's fixture, signed with Stripe's real scheme."""
    event = copy.deepcopy(FIXTURES["event"])
    event.update(
        id=event_id or f"evt_test_{time.time_ns()}",
        type=event_type,
        created=int(time.time()),
        api_version=API_VERSION,
        data={"object": obj},
    )
    body = json.dumps(event).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(
        secret.encode(), f"{ts}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return body, f"t={ts},v1={mac}"
