"""`manage.py attendance_push_status`: the push's health for humans and monitors (exit status 1 = problem)."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from attendance_push.conf import conf
from attendance_push.health import check_health, overdue_text, problem_texts, standing_text
from attendance_push.models import PushRun


class Command(BaseCommand):
    help = (
        "Print the last push runs, the next scheduled push and whether a worker is running; mark the runs whose "
        "process is gone interrupted. Exit with status 1 when the health URL answers 503: the next push will not "
        "happen or will fail (no schedule, no worker for longer than the schedules allow, no user to record as "
        "the creator), the daily push is overdue, the last successful push is older than 26 hours, yesterday was "
        "not pushed (a day closed for every target needs no push), or a day of the last 90 was closed after its "
        "push and its pushed records still stand."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--runs", type=int, default=10, help="How many recent runs to list (default 10).")

    def handle(self, *, runs: int, verbosity: int, **options) -> None:
        health = check_health()
        if verbosity >= 1:
            self._report(health, runs)
        if health.problems:
            raise CommandError(" ".join(problem_texts(health)))
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(_("OK")))

    def _report(self, health, runs: int) -> None:
        zone = conf.TIME_ZONE
        write = self.stdout.write
        if health.interrupted:
            write(
                self.style.WARNING(
                    ngettext(
                        "Marked %(count)d run interrupted: its process is gone.",
                        "Marked %(count)d runs interrupted: their processes are gone.",
                        health.interrupted,
                    )
                    % {"count": health.interrupted}
                )
            )
        write(_("Last %(count)d runs (times in %(zone)s):") % {"count": runs, "zone": zone.key})
        recent = PushRun.objects.select_related("requested_by").order_by("-created_at", "-pk")[:runs]
        for run in recent:
            write(
                f"  {run.date:%Y-%m-%d}  {run.status:<11} {run.trigger:<8} "
                f"{timezone.localtime(run.created_at, zone):%Y-%m-%d %H:%M}  "
                + _("%(created)d created, %(filled)d filled, %(skipped)d skipped")
                % {"created": run.created, "filled": run.filled, "skipped": run.skipped}
            )
            if run.error:
                # Whole: the error is the one line that says what to fix.
                write(self.style.ERROR(f"      {run.error}"))
        if not recent:
            write(_("  (none)"))
        if health.next_run:
            write(
                _("Next push: %(local)s %(zone)s (%(utc)s UTC)")
                % {
                    "local": f"{health.next_run.astimezone(zone):%Y-%m-%d %H:%M}",
                    "zone": zone.key,
                    "utc": f"{health.next_run.astimezone(datetime.UTC):%Y-%m-%d %H:%M}",
                }
            )
            if health.overdue_since:
                write(self.style.ERROR("  " + overdue_text(health.overdue_since, timezone.now(), health.clusters)))
        else:
            write(_("Next push: not scheduled (run `python manage.py migrate`)."))
        if health.clusters:
            hosts = ", ".join(sorted({f"{stat.host} (pid {stat.pid})" for stat in health.clusters}))
            write(
                _("Workers: %(count)d cluster(s) running on %(hosts)s")
                % {"count": len(health.clusters), "hosts": hosts}
            )
        else:
            write(_("Workers: none running (start one with `python manage.py qcluster`)."))
        if health.last_success:
            # The latest day pushed, not the last run to finish (a rerun of an old day finishes last).
            finished = timezone.localtime(health.last_success.finished_at, zone)
            write(
                _("Last successful push: %(day)s, finished %(finished)s")
                % {"day": f"{health.last_success.date:%Y-%m-%d}", "finished": f"{finished:%Y-%m-%d %H:%M}"}
            )
        else:
            write(_("Last successful push: none yet"))
        yesterday = {"day": f"{health.yesterday:%Y-%m-%d}"}
        if health.yesterday_pushed:
            write(_("Yesterday (%(day)s): pushed") % yesterday)
        elif health.yesterday_undone_by is not None:
            write(
                _("Yesterday (%(day)s): undone by run %(undo)s (neither the schedule nor catch-up pushes it again)")
                % {**yesterday, "undo": health.yesterday_undone_by}
            )
        elif health.yesterday_closed:
            write(
                _("Yesterday (%(day)s): closed (%(reasons)s), nothing to push")
                % {**yesterday, "reasons": "; ".join(health.yesterday_closed)}
            )
        else:
            write(_("Yesterday (%(day)s): NOT PUSHED") % yesterday)
        for day, reasons, count in health.standing:
            write(self.style.WARNING(standing_text(day, reasons, count)))
