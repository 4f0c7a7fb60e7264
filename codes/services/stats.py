"""Planner statistics after bulk changes to the codes table."""

from __future__ import annotations

from django.db import connection, transaction

# A change of this many codes (an import, an approval, a withdrawal) analyzes the
# table after commit, so that pages do not wait for autovacuum to notice, or for
# nobody where it is off: the issue measured a page at 3.4 s before VACUUM ANALYZE
# and 1.1 s after, with 2.1M codes freshly imported.
ANALYZE_AFTER_CODES = 100_000


def codes_analyze_after(changed: int) -> None:
    """Inside the transaction that changed `changed` codes: ANALYZE after commit
    when that is many (PostgreSQL; about a second at ten million rows)."""
    if changed >= ANALYZE_AFTER_CODES and connection.vendor == "postgresql":
        transaction.on_commit(_analyze, robust=True)


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE codes_code")
