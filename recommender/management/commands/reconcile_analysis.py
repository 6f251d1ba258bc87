from __future__ import annotations

from django.core.management.base import BaseCommand

from recommender.jobs import reconcile


class Command(BaseCommand):
    help = (
        "Re-queue songs whose analysis was lost (worker crash, Redis restart) or that the active model "
        "has not analysed yet. The analysis worker also runs this every few minutes."
    )

    def handle(self, *args: object, **options: object) -> None:
        counts = reconcile()
        self.stdout.write(
            f"Back to the queue: {counts['revived']} stuck while analysing, {counts['requeued']} queued without a job; "
            f"newly queued: {counts['queued']}; "
            f"given the new statistics' vectors without analysis: {counts['recombined']}."
        )
