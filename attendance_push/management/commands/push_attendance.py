"""`manage.py push_attendance`: push a day (or a range of days) now, in the foreground."""

from __future__ import annotations

import argparse
import datetime
import re

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from attendance_push.conf import write_modes
from attendance_push.days import today, validate_day
from attendance_push.exceptions import PushError
from attendance_push.models import PushRun
from attendance_push.plan.actor import actor_needed, resolve_actor
from attendance_push.push import push
from attendance_push.results import TargetCounts, read_counts
from attendance_push.runs import run_push
from attendance_push.text import counts_reason, describe_rules, push_counts, save_may_decline


def iso_date(value: str) -> datetime.date:
    """Parse YYYY-MM-DD (and nothing else ISO 8601 allows, such as 20261120 or 2026-W47-5) for argparse."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("%(value)r is not a date; write it as YYYY-MM-DD.") % {"value": value}
        ) from None


class Command(BaseCommand):
    help = (
        "Fill the missing attendance of a day (default: today in ATTENDANCE_PUSH['TIME_ZONE']) "
        "or of a range of days, and record each day in the PushRun history."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--date", type=iso_date, help="The day to push, YYYY-MM-DD.")
        parser.add_argument("--from", dest="start", type=iso_date, help="First day of a range, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", type=iso_date, help="Last day of a range, YYYY-MM-DD.")
        parser.add_argument("--dry-run", action="store_true", help="Print what the push would do and write nothing.")
        parser.add_argument(
            "--include-closed",
            action="store_true",
            help="Create records on closed days too (a weekly off, a holiday, a closure); recorded on the run.",
        )

    def handle(
        self,
        *,
        date: datetime.date | None,
        start: datetime.date | None,
        end: datetime.date | None,
        dry_run: bool,
        include_closed: bool,
        verbosity: int,
        **options,
    ) -> None:
        days = self._days(date, start, end)
        try:
            for day in days:
                validate_day(day)
            if actor_needed(days, include_closed=include_closed):
                # Refuse before the first day is recorded rather than fail every day of a range; days
                # closed for every target that records its creator create nothing and need no actor.
                resolve_actor()
        except PushError as exc:
            raise CommandError(str(exc)) from None
        for index, day in enumerate(days, start=1):
            progress = f"[{index}/{len(days)}] " if len(days) > 1 else ""
            if dry_run:
                heading = _("%(day)s would push:") % {"day": f"{day:%Y-%m-%d}"}
                try:
                    preview = push(day, dry_run=True, include_closed=include_closed)
                except PushError as exc:
                    raise CommandError(_dry_run_failed(day, str(exc))) from None
                except Exception as exc:  # noqa: BLE001 (a dry run's error is one line, never a traceback)
                    raise CommandError(_dry_run_failed(day, f"{type(exc).__name__}: {_first_line(exc)}")) from None
                counts = read_counts(preview.counts())
                self._report(f"{progress}{heading}", counts, verbosity, forced=include_closed, dry_run=True)
                continue
            try:
                run = run_push(day, trigger=PushRun.Trigger.COMMAND, include_closed=include_closed)
            except PushError as exc:
                done = _(" (%(count)d earlier day(s) were pushed)") % {"count": index - 1} if index > 1 else ""
                raise CommandError(f"{exc}{done}") from None
            if run.status == PushRun.Status.FAILED:
                done = _(" (%(count)d earlier day(s) were pushed)") % {"count": index - 1} if index > 1 else ""
                raise CommandError(
                    _("Push of %(day)s failed (PushRun %(run)s): %(error)s")
                    % {"day": day, "run": run.pk, "error": run.error}
                    + done
                )
            heading = _("%(day)s pushed (PushRun %(run)s):") % {"day": f"{day:%Y-%m-%d}", "run": run.pk}
            self._report(f"{progress}{heading}", run.target_counts, verbosity, forced=run.include_closed)

    def _days(
        self, date: datetime.date | None, start: datetime.date | None, end: datetime.date | None
    ) -> list[datetime.date]:
        if date and (start or end):
            raise CommandError(_("Give either --date or --from/--to, not both."))
        if bool(start) != bool(end):
            raise CommandError(_("A range needs both --from and --to."))
        if start and end:
            if start > end:
                raise CommandError(_("--from %(start)s is after --to %(end)s.") % {"start": start, "end": end})
            return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
        return [date or today()]

    def _report(
        self, heading: str, counts: dict[str, TargetCounts], verbosity: int, *, forced: bool, dry_run: bool = False
    ) -> None:
        if verbosity < 1:
            return
        self.stdout.write(heading)
        by_save = {label for label, mode in write_modes().items() if mode == "save"} if dry_run else set()
        for label, count in counts.items():
            reason = counts_reason(count)
            closed = ""
            if reason and forced and dry_run:
                # Nothing is written yet: records would be created on the closed day.
                closed = _("closed (%(reason)s), would be pushed anyway: ") % {"reason": reason}
            elif reason and forced:
                # Records were created on the closed day: say so, not only that it was closed.
                closed = _("closed (%(reason)s), pushed anyway: ") % {"reason": reason}
            elif reason:
                closed = _("closed (%(reason)s): ") % {"reason": reason}
            self.stdout.write(
                f"  {label}: {closed}"
                + push_counts(count.created, count.filled, count.skipped, count.corrected)
                + (f" ({describe_rules(count.rules)})" if count.rules else "")
                + (f"; {save_may_decline()}" if label in by_save else "")
            )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _dry_run_failed(day: datetime.date, error: str) -> str:
    return _("The dry run of %(day)s failed, and nothing was written: %(error)s") % {
        "day": f"{day:%Y-%m-%d}",
        "error": error,
    }
