"""`manage.py attendance_scheduler`: make sure the daily push is scheduled, then run the worker."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections
from django.utils.translation import gettext as _
from django_q.cluster import Cluster

from attendance_push.conf import SCHEDULE_NAME, TEST_SCHEDULE_NAME, conf
from attendance_push.management.cluster import run_cluster
from attendance_push.schedule import (
    TEST_LEASE_RENEW_EVERY,
    ensure_schedule,
    ensure_test_schedule,
    remove_test_schedule,
    renew_test_lease,
)


class Command(BaseCommand):
    help = (
        "Register the daily push schedule and run the django-q2 cluster (the worker) in the "
        "foreground. Ctrl-C or SIGTERM stops it within seconds; its processes die with it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--test",
            action="store_true",
            help="Also push every hour while this command runs (a temporary hourly schedule).",
        )

    def handle(self, *, test: bool, verbosity: int, **options) -> None:
        settings.SECRET_KEY  # noqa: B018 (django-q2 signs its packages with it: fail before starting)
        schedule, _created = ensure_schedule()
        zone = conf.TIME_ZONE
        if verbosity >= 1:
            self.stdout.write(
                _("Schedule %(name)s: next push %(local)s %(zone)s (%(utc)s UTC).")
                % {
                    "name": SCHEDULE_NAME,
                    "local": f"{schedule.next_run.astimezone(zone):%Y-%m-%d %H:%M}",
                    "zone": zone.key,
                    "utc": f"{schedule.next_run:%Y-%m-%d %H:%M}",
                }
            )
        if test:
            ensure_test_schedule()
            if verbosity >= 1:
                self.stdout.write(
                    _("Test mode: %(name)s also pushes today every hour, starting now.") % {"name": TEST_SCHEDULE_NAME}
                )
        # The cluster forks: a connection opened here would be shared with (and closed by) its children.
        connections.close_all()
        renewed = time.monotonic()

        def renew() -> None:
            nonlocal renewed
            if test and time.monotonic() - renewed >= TEST_LEASE_RENEW_EVERY.total_seconds():
                renewed = time.monotonic()
                self._renew_lease()

        try:
            # SIGTERM or Ctrl-C ends the loop; the cluster is stopped outside the signal handler, and
            # what has not stopped STOP_GRACE seconds later is killed.
            run_cluster(Cluster(), every=renew)
        finally:
            if test:
                connections.close_all()
                remove_test_schedule()

    def _renew_lease(self) -> None:
        try:
            renew_test_lease()
        except DatabaseError as exc:
            # The lease has minutes to run: the next renewal may reach the database.
            self.stderr.write(_("Could not renew the hourly test schedule's lease: %(error)s") % {"error": exc})
        finally:
            connections.close_all()
