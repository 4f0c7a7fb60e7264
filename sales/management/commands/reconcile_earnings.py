from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sales.models import Payment
from sales.payments.base import PaymentError
from sales.services.earnings import earnings_differences


class Command(BaseCommand):
    help = (
        "Compare our ledger with the payment provider's record of every payment "
        "(charge, refunds, platform fee, transfer to the seller); report each difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Payments confirmed in the last N days (30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        payments = (
            Payment.objects.filter(
                status=Payment.Status.CONFIRMED,
                confirmed_at__gte=timezone.now() - timedelta(days=options["days"]),
            )
            .exclude(provider="dev")
            .select_related("order")
            .order_by("pk")
        )
        checked = differing = errors = 0
        for payment in payments.iterator():
            checked += 1
            try:
                found = earnings_differences(payment=payment)
            except PaymentError as e:
                errors += 1
                self.stderr.write(f"order #{payment.order.reference}: {e}")
                continue
            for what, ours, theirs in found:
                self.stdout.write(
                    f"order #{payment.order.reference}: {what}: ledger {ours} "
                    f"{payment.currency}, provider {theirs} {payment.currency} "
                    f"(difference {theirs - ours + Decimal(0)})"
                )
            differing += bool(found)
        self.stdout.write(
            f"Checked {checked} payments: {differing} with differences, "
            f"{errors} not reachable."
        )
        if differing or errors:
            raise CommandError("the ledger and the provider disagree", returncode=1)
