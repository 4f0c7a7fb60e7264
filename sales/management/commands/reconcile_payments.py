from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sales.models import Payment
from sales.payments.base import PaymentError
from sales.services.payments import payment_reconcile


class Command(BaseCommand):
    help = "Ask the payment provider about every pending payment (for missed webhooks)."

    def handle(self, *args: Any, **options: Any) -> None:
        pending = Payment.objects.filter(status=Payment.Status.PENDING).exclude(
            provider="dev"
        )
        counts: dict[str, int] = {}
        for payment in pending.iterator():
            try:
                state = payment_reconcile(payment=payment)
            except PaymentError as e:
                self.stderr.write(f"payment {payment.pk}: {e}")
                state = "error"
            counts[state] = counts.get(state, 0) + 1
        summary = (
            ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            or "nothing pending"
        )
        self.stdout.write(f"Reconciled: {summary}.")
