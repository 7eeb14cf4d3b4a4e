"""The history calendar: the outcome of each of the last days, from one query (and two for closed days)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .models import PushRun
from .runs import installed_on
from .schedule import push_instant
from .workdays import closed_days

# Outcome of a day, worst news first where several apply.
PUSHED, FAILED, RUNNING, MISSED, UPCOMING, BEFORE = "pushed", "failed", "running", "missed", "upcoming", "before"
CLOSED = "closed"
LEGEND = {
    PUSHED: _("Pushed"),
    CLOSED: _("Closed: a weekly off, a holiday or a closure (no records created)"),
    RUNNING: _("Queued or running"),
    FAILED: _("Failed (no successful push yet)"),
    MISSED: _("Missed: no push since its push time"),
    UPCOMING: _("Push time not reached yet"),
    BEFORE: _("Before the first push"),
}


@dataclass(frozen=True)
class CalendarDay:
    day: datetime.date
    outcome: str
    # Why the day is closed, per target name, for the targets it is closed for.
    closed: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        from .bikram import bs_date, in_nepali

        text = date_format(self.day, "D j M Y")
        if in_nepali():
            text = f"{text} ({bs_date(self.day)})"
        if self.outcome == CLOSED:
            reasons = sorted({reason for _name, reason in self.closed})
            return f"{text}: " + gettext("Closed (%(reasons)s)") % {"reasons": "; ".join(reasons)}
        text = f"{text}: {LEGEND[self.outcome]}"
        for name, reason in self.closed:
            text += "; " + gettext("closed for %(target)s (%(reason)s)") % {"target": name, "reason": reason}
        return text


@dataclass(frozen=True)
class CalendarWeek:
    """Seven squares, Sunday first (Nepal's week); None where the calendar has no day."""

    days: tuple[CalendarDay | None, ...]
    month: datetime.date | None  # the first of a month within the week (or the calendar's first day)
    bs_month: datetime.date | None = None  # the same for a Bikram Sambat month, on pages in Nepali


def calendar_weeks(calendar: list[CalendarDay]) -> list[CalendarWeek]:
    """Group the calendar's days into Sunday-to-Saturday weeks, oldest first."""
    weeks: list[CalendarWeek] = []
    row: list[CalendarDay | None] = [None] * (calendar[0].day.isoweekday() % 7) if calendar else []
    for cell in calendar:
        row.append(cell)
        if len(row) == 7:
            weeks.append(_week(row, first=not weeks))
            row = []
    if row:
        weeks.append(_week(row + [None] * (7 - len(row)), first=not weeks))
    return weeks


def _week(row: list[CalendarDay | None], *, first: bool) -> CalendarWeek:
    from .bikram import in_nepali, is_bs_month_start

    days = [cell.day for cell in row if cell is not None]
    month = next((day for day in days if day.day == 1), days[0] if first else None)
    bs_month = None
    if in_nepali():
        # Bikram Sambat months start mid-way through Gregorian ones: label the week where each begins.
        bs_month = next((day for day in days if is_bs_month_start(day)), days[0] if first else None)
    return CalendarWeek(tuple(row), month, bs_month)


def history_calendar(today: datetime.date, now: datetime.datetime, days: int = 90) -> list[CalendarDay]:
    """Return the outcome of each of the `days` days up to `today`, oldest first."""
    start = today - datetime.timedelta(days=days - 1)
    # One row per (day, status) with the latest start: enough to tell each day's outcome.
    latest: dict[datetime.date, dict[str, datetime.datetime | None]] = defaultdict(dict)
    rows = (
        PushRun.objects.filter(date__gte=start, date__lte=today)
        .order_by()
        .values_list("date", "status")
        .annotate(last_start=Max("started_at"))
    )
    for day, status, last_start in rows:
        latest[day][status] = last_start
    installed = installed_on()
    closed = _closed_reasons(start, today)
    targets = len(conf.TARGETS)
    calendar = []
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        outcome = _outcome(day, latest.get(day, {}), now, installed)
        calendar.append(CalendarDay(day, _unless_closed(outcome, closed.get(day, ()), targets), closed.get(day, ())))
    return calendar


def day_outcomes(days: set[datetime.date], now: datetime.datetime) -> dict[datetime.date, str]:
    """Return the calendar outcome of each of `days` (for the live updates of the history)."""
    latest: dict[datetime.date, dict[str, datetime.datetime | None]] = defaultdict(dict)
    rows = (
        PushRun.objects.filter(date__in=days).order_by().values_list("date", "status").annotate(last=Max("started_at"))
    )
    for day, status, last_start in rows:
        latest[day][status] = last_start
    installed = installed_on()
    closed = _closed_reasons(min(days), max(days)) if days else {}
    targets = len(conf.TARGETS)
    return {
        day: _unless_closed(_outcome(day, latest.get(day, {}), now, installed), closed.get(day, ()), targets)
        for day in days
    }


def _closed_reasons(first: datetime.date, last: datetime.date) -> dict[datetime.date, tuple[tuple[str, str], ...]]:
    """Return, per closed day from `first` to `last`, the (target name, reason) of each target it is closed for."""
    targets = conf.TARGETS
    names = {target.label: str(target.model._meta.verbose_name) for target in targets}
    reasons: dict[datetime.date, list[tuple[str, str]]] = defaultdict(list)
    for label, by_day in closed_days(targets, first, last).items():
        for day, reason in by_day.items():
            reasons[day].append((names[label], reason))
    return {day: tuple(found) for day, found in reasons.items()}


def _unless_closed(outcome: str, reasons: tuple[tuple[str, str], ...], targets: int) -> str:
    """Return CLOSED for a day closed for all `targets`, unless a push of it failed or is under way."""
    if reasons and len(reasons) == targets and outcome not in (FAILED, RUNNING):
        return CLOSED
    return outcome


def _outcome(day, statuses, now, installed) -> str:
    instant = push_instant(day)
    succeeded = statuses.get(PushRun.Status.SUCCEEDED)
    # Before the push time, today's early push shows; after it, only a push since then counts.
    if succeeded is not None and (succeeded >= instant or instant > now):
        return PUSHED
    if PushRun.Status.QUEUED in statuses or PushRun.Status.RUNNING in statuses:
        return RUNNING
    if PushRun.Status.FAILED in statuses or PushRun.Status.INTERRUPTED in statuses:
        return FAILED
    if instant > now:
        return UPCOMING
    if installed is None or day < installed:
        return BEFORE
    return MISSED
