"""The history calendar: the outcome of each of the last days, from one query (and a few for closed days)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .ledger import forced_closed, standing_on_closed_days, standing_runs
from .models import PushRun
from .runs import installed_on, undone_days
from .schedule import push_instant
from .text import closed_days

# Outcome of a day, worst news first where several apply.
PUSHED, FAILED, RUNNING, MISSED, UPCOMING, BEFORE = "pushed", "failed", "running", "missed", "upcoming", "before"
# Handled as a pushed day is (catch-up leaves it), but its latest successful push was undone: no records stand.
UNDONE = "undone"
CLOSED = "closed"
# Closed now, but records a push created while the day was open still stand: false until pushed again.
STANDING = "standing"
LEGEND = {
    PUSHED: _("Pushed"),
    UNDONE: _("Undone: its last push was undone (push the day again to bring its records back)"),
    CLOSED: _("Closed: a weekly off, a holiday or a closure (no records created)"),
    STANDING: _("Closed after its push: records pushed before the closure still stand (push the day again)"),
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
    # Records pushes created while the day was open for a target it is closed for now, still standing.
    standing: int = 0
    # A push created records on the closed day on purpose ("Push closed days too").
    forced: bool = False

    @property
    def label(self) -> str:
        from .bikram import bs_date, in_nepali

        text = date_format(self.day, "D j M Y")
        if in_nepali():
            text = f"{text} ({bs_date(self.day)})"
        reasons = "; ".join(sorted({reason for _name, reason in self.closed}))
        if self.outcome == CLOSED:
            return f"{text}: " + gettext("Closed (%(reasons)s)") % {"reasons": reasons}
        if self.outcome in (STANDING, PUSHED) and self.closed and self.closed_for_all:
            if self.standing:
                return f"{text}: " + gettext("Closed (%(reasons)s), but %(standing)s") % {
                    "reasons": reasons,
                    "standing": self._standing_text(),
                }
            if self.forced:
                return f"{text}: " + gettext("Closed (%(reasons)s), pushed anyway") % {"reasons": reasons}
        text = f"{text}: {LEGEND[PUSHED if self.outcome == STANDING else self.outcome]}"
        for name, reason in self.closed:
            if self.forced and self.outcome == PUSHED:
                closed = gettext("closed for %(target)s (%(reason)s), pushed anyway")
            else:
                closed = gettext("closed for %(target)s (%(reason)s)")
            text += "; " + closed % {"target": name, "reason": reason}
        if self.outcome == STANDING:
            text += ", " + gettext("but %(standing)s") % {"standing": self._standing_text()}
        return text

    @property
    def closed_for_all(self) -> bool:
        return len(self.closed) == len(conf.TARGETS)

    def _standing_text(self) -> str:
        return ngettext(
            "%(count)d record pushed before the closure still stands: push the day again to withdraw it",
            "%(count)d records pushed before the closure still stand: push the day again to withdraw them",
            self.standing,
        ) % {"count": self.standing}


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
    undone = undone_days(start, today)
    closed, standing, forced = _closed_state(start, today)
    targets = len(conf.TARGETS)
    calendar = []
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        outcome = _outcome(day, latest.get(day, {}), now, installed, undone=day in undone)
        reasons, count = closed.get(day, ()), standing.get(day, 0)
        outcome = _unless_closed(outcome, reasons, targets, standing=count, forced=day in forced)
        calendar.append(CalendarDay(day, outcome, reasons, count, day in forced))
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
    undone = undone_days(min(days), max(days)) if days else {}
    closed, standing, forced = _closed_state(min(days), max(days)) if days else ({}, {}, set())
    targets = len(conf.TARGETS)
    return {
        day: _unless_closed(
            _outcome(day, latest.get(day, {}), now, installed, undone=day in undone),
            closed.get(day, ()),
            targets,
            standing=standing.get(day, 0),
            forced=day in forced,
        )
        for day in days
    }


def standing_days(today: datetime.date, days: int = 90) -> list[tuple[datetime.date, list[str], int]]:
    """Return the days of the calendar's window up to `today` closed after a push whose records still stand,
    with the reasons they are closed for and how many records stand, oldest first."""
    closed, standing, _forced = _closed_state(today - datetime.timedelta(days=days - 1), today)
    return [
        (day, sorted({reason for _name, reason in closed[day]}), count)
        for day, count in sorted(standing.items())
        if count
    ]


def standing_in(calendar: list[CalendarDay], first: datetime.date) -> list[tuple[datetime.date, list[str], int]]:
    """Return `standing_days` as the drawn `calendar` holds them, for its days from `first` on."""
    return [
        (cell.day, sorted({reason for _name, reason in cell.closed}), cell.standing)
        for cell in calendar
        if cell.standing and cell.day >= first
    ]


def _closed_state(
    first: datetime.date, last: datetime.date
) -> tuple[dict[datetime.date, tuple[tuple[str, str], ...]], dict[datetime.date, int], set[datetime.date]]:
    """Return, for the closed days from `first` to `last`: the (target name, reason) of each target each is
    closed for; how many records pushed while it was open still stand on it; the days pushed anyway.

    Per day and target, never per person: the calendar's two queries, one for the pushes of the closed
    days, and one per target that such a push created records for.
    """
    targets = conf.TARGETS
    names = {target.label: str(target.model._meta.verbose_name) for target in targets}
    reasons: dict[datetime.date, list[tuple[str, str]]] = defaultdict(list)
    closed_on: dict[str, set[datetime.date]] = {}
    for label, by_day in closed_days(targets, first, last).items():
        closed_on[label] = set(by_day)
        for day, reason in by_day.items():
            reasons[day].append((names[label], reason))
    if not reasons:
        return {}, {}, set()
    runs = standing_runs(reasons)
    # A push that created records where the day was closed, asked to ("Push closed days too").
    forced = {run.date for run in runs if any(forced_closed(run, label) for label in run.counts)}
    standing = {day: sum(by_target.values()) for day, by_target in standing_on_closed_days(closed_on, runs).items()}
    return {day: tuple(found) for day, found in reasons.items()}, standing, forced


def _unless_closed(
    outcome: str, reasons: tuple[tuple[str, str], ...], targets: int, *, standing: int = 0, forced: bool = False
) -> str:
    """Return the outcome of a day closed for some or all `targets`, unless a push of it failed or is under way:
    STANDING where records pushed before it closed still stand, PUSHED where a push forced it, else CLOSED
    when it is closed for all `targets`."""
    if not reasons or outcome in (FAILED, RUNNING):
        return outcome
    if standing:
        return STANDING
    if forced and outcome == PUSHED:
        return PUSHED
    if len(reasons) == targets:
        return CLOSED
    return outcome


def _outcome(day, statuses, now, installed, *, undone: bool = False) -> str:
    instant = push_instant(day)
    # The latest start of a successful push or undo: handled, as catch-up sees it (runs.is_pushed).
    succeeded = statuses.get(PushRun.Status.SUCCEEDED)
    # Before the push time, today's early push shows; after it, only a push since then counts.
    if succeeded is not None and (succeeded >= instant or instant > now):
        # Handled either way; pushed only when nobody undid its latest successful push since.
        return UNDONE if undone else PUSHED
    if PushRun.Status.QUEUED in statuses or PushRun.Status.RUNNING in statuses:
        return RUNNING
    if PushRun.Status.FAILED in statuses or PushRun.Status.INTERRUPTED in statuses:
        return FAILED
    if instant > now:
        return UPCOMING
    if installed is None or day < installed:
        return BEFORE
    return MISSED
