"""Checkout, payments, orders, delivery and refunds arrive with the checkout issue."""

from __future__ import annotations
