"""What codes tells the layers above it, without importing them.

The one domain signal (STYLE prefers explicit calls): codes sits below sales, so it
can neither call sales nor, honestly, name a sales task; a signal states the
event and lets sales decide. Receivers only queue work after commit."""

from __future__ import annotations

from django.dispatch import Signal

# New codes went on sale for a listing (a batch was approved), inside the approving
# transaction: `listing_id`. Sales fills waiting backorders from them.
codes_approved = Signal()
