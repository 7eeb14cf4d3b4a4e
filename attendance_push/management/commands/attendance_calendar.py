"""`manage.py attendance_calendar`: print which days are open or closed for each target, and why."""

from __future__ import annotations

import argparse
import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from attendance_push.bikram import bs_date, in_nepali
from attendance_push.conf import conf
from attendance_push.management.commands.push_attendance import iso_date
from attendance_push.text import closed_days

MAX_DAYS = 366 * 5


class Command(BaseCommand):
    help = (
        "Print one line per day and attendance target: the date, the weekday, the target, and 'open' or "
        "'closed: <reason>' (a weekly off, a public holiday, a closure)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--from", dest="start", type=iso_date, required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", type=iso_date, required=True, help="Last day, YYYY-MM-DD.")
        parser.add_argument("--closed-only", action="store_true", help="Print the closed days only.")

    def handle(self, *, start: datetime.date, end: datetime.date, closed_only: bool, verbosity: int, **options) -> None:
        if start > end:
            raise CommandError(_("--from %(start)s is after --to %(end)s.") % {"start": start, "end": end})
        if (end - start).days >= MAX_DAYS:
            raise CommandError(
                _("At most %(max)d days at a time; this range has %(length)d.")
                % {"max": MAX_DAYS, "length": (end - start).days + 1}
            )
        targets = conf.TARGETS
        if not targets:
            raise CommandError(
                _("ATTENDANCE_PUSH['TARGETS'] is empty: there is no attendance to print a calendar for.")
            )
        closed = closed_days(targets, start, end)
        nepali = in_nepali()
        day = start
        while day <= end:
            # The line the README documents (in English):
            # "2026-11-21 Sat school.StudentAttendance closed: <reason>".
            date = f"{day:%Y-%m-%d} ({bs_date(day)})" if nepali else f"{day:%Y-%m-%d}"
            for target in targets:
                reason = closed[target.label].get(day)
                if reason is None and closed_only:
                    continue
                state = _("closed: %(reason)s") % {"reason": reason} if reason else _("open")
                self.stdout.write(f"{date} {date_format(day, 'D')} {target.label} {state}")
            day += datetime.timedelta(days=1)
