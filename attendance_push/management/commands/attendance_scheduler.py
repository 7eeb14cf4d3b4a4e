"""`manage.py attendance_scheduler`: make sure the daily push is scheduled, then run the worker."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from django.utils.translation import gettext as _
from django_q.cluster import Cluster

from attendance_push.conf import SCHEDULE_NAME, TEST_SCHEDULE_NAME, conf
from attendance_push.schedule import ensure_schedule, ensure_test_schedule, remove_test_schedule


class Command(BaseCommand):
    help = (
        "Register the daily push schedule and run the django-q2 cluster (the worker) in the "
        "foreground. Ctrl-C stops it."
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
        cluster = Cluster()
        try:
            cluster.start()
            # start() returns once the sentinel runs; Ctrl-C or SIGTERM reach the cluster's own
            # handler, which stops the sentinel and ends this wait.
            while cluster.sentinel.is_alive():
                time.sleep(0.5)
        finally:
            if test:
                connections.close_all()
                remove_test_schedule()
