"""Reads about codes that views need and that are more than one filter."""

from __future__ import annotations

from django.apps import apps

from codes.models import Code


def buyer_email_for(code: Code) -> str:
    """The buyer's email of a sold code, for Validate a code.

    Orders belong to sales, a layer above codes, so the model is read through the
    app registry rather than imported: the one read that crosses the layers upward.
    """
    if code.order_id is None:
        return ""
    order_model = apps.get_model("sales", "Order")
    email: str | None = (
        order_model.objects.filter(pk=code.order_id)
        .values_list("email", flat=True)
        .first()
    )
    return email or ""
