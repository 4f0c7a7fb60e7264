from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from sales.models import Payment
from sales.payments import get_provider
from sales.payments.base import PaymentError
from sales.services.payments import payment_reconcile
from sales.services.refunds import payment_refunds_sync


class Command(BaseCommand):
    help = (
        "Ask the payment provider about every pending payment, and about the refunds "
        "of recent payments (for missed webhooks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=7,
            help="Compare the refunds of payments confirmed in the last N days (7).",
        )

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
        self.stdout.write(f"Refunds found: {self._refunds(options['days'])}.")

    def _refunds(self, days: int) -> int:
        """Refunds the provider made that we had not recorded (a missed
        `charge.refunded`, one made by hand while ours was pending)."""
        recent = Payment.objects.filter(
            status=Payment.Status.CONFIRMED,
            confirmed_at__gte=timezone.now() - timedelta(days=days),
        ).exclude(provider="dev")
        found = 0
        for payment in recent.iterator():
            try:
                info = get_provider(payment.provider).fetch_payment_refunds(
                    payment=payment
                )
            except PaymentError as e:
                self.stderr.write(f"payment {payment.pk}: {e}")
                continue
            found += len(
                payment_refunds_sync(provider_name=payment.provider, info=info)
            )
        return found
