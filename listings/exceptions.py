from __future__ import annotations


class ListingError(Exception):
    """A listing action that is not allowed now; the message is user-safe."""


class WaitlistLimited(ListingError):
    """Too many waitlist sign-ups from one client network; the message is user-safe."""
