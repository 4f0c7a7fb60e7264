from __future__ import annotations


class OrderError(Exception):
    """An order action that is not possible; the message is user-safe."""


class RefundError(OrderError):
    pass
