from __future__ import annotations


class CodesError(Exception):
    """A codes action that is not allowed now; the message is user-safe."""
