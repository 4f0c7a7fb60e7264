from __future__ import annotations

from django.utils.translation import gettext as _

from distribly.errors import FieldError


class CodesError(Exception):
    """A codes action that is not allowed now; the message is user-safe."""


class OutOfStock(CodesError):
    """Not enough codes for sale to fill the order."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or _("Sorry, this item is sold out."))


class CodeNotFound(CodesError):
    """Unknown, another seller's, or not sold: all answer the same (no oracle)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or _("No such code."))


class CodeAlreadyRedeemed(CodesError):
    def __init__(self, *, redeemed_at: object, redeemed_by: str) -> None:
        super().__init__(_("This code was already redeemed by another account."))
        self.redeemed_at = redeemed_at
        self.redeemed_by = redeemed_by


class CodeCancelled(CodesError):
    def __init__(self) -> None:
        super().__init__(
            _("This code was cancelled (refunded or revoked) and can't be used.")
        )


class CodeBusy(CodesError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "This code is in a buyer's checkout right now; try again in a few minutes."
            )
        )


class InvalidCodeValue(FieldError, CodesError):
    """A field of a validation request is wrong (`field`, `message`)."""


class WebhookURLError(FieldError, CodesError):
    """A webhook URL we must not call; always about the `url` field."""

    def __init__(self, message: object) -> None:
        super().__init__("url", message)
