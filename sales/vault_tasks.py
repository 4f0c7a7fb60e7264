"""Tasks of the buyer's vault (registered through sales.tasks)."""

from __future__ import annotations
