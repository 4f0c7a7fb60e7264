from __future__ import annotations


class CodesError(Exception):
    """A codes action that is not allowed now; the message is user-safe."""


class OutOfStock(CodesError):
    """Not enough codes for sale to fill the order."""

    def __init__(self, message: str = "Sorry, this item is sold out.") -> None:
        super().__init__(message)
