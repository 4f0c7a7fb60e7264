"""What codes tells the layers above it, without importing them."""

from __future__ import annotations

from django.dispatch import Signal

# New codes went on sale for a listing (a batch was approved), inside the approving
# transaction: `listing_id`. Sales fills waiting backorders from them.
codes_approved = Signal()
