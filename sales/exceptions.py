from __future__ import annotations


class OrderError(Exception):
    """An order action that is not possible; the message is user-safe."""


class CheckoutLimited(OrderError):
    """A cap on unpaid reservations or on checkout starts applies; the message says
    which and what the buyer can do."""


class RefundError(OrderError):
    pass


class ClaimError(OrderError):
    """A claim action that is not possible now (closed, out of time, over a limit)."""


class FindCodesLimited(OrderError):
    """Too many Find my codes requests from one network or for one address."""
