"""`manage.py attendance_push_status`: the push's health for humans and monitors (exit status 1 = problem)."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from attendance_push.conf import conf
from attendance_push.health import check_health
from attendance_push.models import PushRun


class Command(BaseCommand):
    help = (
        "Print the last push runs, the next scheduled push and whether a worker is running. Exit with status 1 "
        "when the last successful push is older than 26 hours or yesterday was not pushed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--runs", type=int, default=10, help="How many recent runs to list (default 10).")

    def handle(self, *, runs: int, verbosity: int, **options) -> None:
        health = check_health()
        if verbosity >= 1:
            self._report(health, runs)
        if health.problems:
            raise CommandError(" ".join(health.problems))
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS("OK"))

    def _report(self, health, runs: int) -> None:
        zone = conf.TIME_ZONE
        write = self.stdout.write
        write(f"Last {runs} runs (times in {zone.key}):")
        recent = PushRun.objects.select_related("requested_by").order_by("-created_at", "-pk")[:runs]
        for run in recent:
            write(
                f"  {run.date:%Y-%m-%d}  {run.status:<11} {run.trigger:<8} "
                f"{timezone.localtime(run.created_at, zone):%Y-%m-%d %H:%M}  "
                f"{run.created} created, {run.filled} filled, {run.skipped} skipped"
                + (f"  {run.error.splitlines()[0][:80]}" if run.error else "")
            )
        if not recent:
            write("  (none)")
        if health.next_run:
            write(
                f"Next push: {health.next_run.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} "
                f"({health.next_run.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC)"
            )
        else:
            write("Next push: not scheduled (run `python manage.py migrate`).")
        if health.clusters:
            hosts = ", ".join(sorted({f"{stat.host} (pid {stat.pid})" for stat in health.clusters}))
            write(f"Workers: {len(health.clusters)} cluster(s) running on {hosts}")
        else:
            write("Workers: none running (start one with `python manage.py qcluster`).")
        if health.last_success:
            finished = timezone.localtime(health.last_success.finished_at, zone)
            write(f"Last successful push: {health.last_success.date:%Y-%m-%d}, finished {finished:%Y-%m-%d %H:%M}")
        write(f"Yesterday ({health.yesterday:%Y-%m-%d}): {'pushed' if health.yesterday_pushed else 'NOT PUSHED'}")
