"""The history calendar: the outcome of each of the last days, from one query."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max

from .models import PushRun
from .runs import installed_on
from .schedule import push_instant

# Outcome of a day, worst news first where several apply.
PUSHED, FAILED, RUNNING, MISSED, UPCOMING, BEFORE = "pushed", "failed", "running", "missed", "upcoming", "before"
LEGEND = {
    PUSHED: "Pushed",
    RUNNING: "Queued or running",
    FAILED: "Failed (no successful push yet)",
    MISSED: "Missed: no push since its push time",
    UPCOMING: "Push time not reached yet",
    BEFORE: "Before the first push",
}


@dataclass(frozen=True)
class CalendarDay:
    day: datetime.date
    outcome: str

    @property
    def label(self) -> str:
        return f"{self.day:%a %d %b %Y}: {LEGEND[self.outcome]}"


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
    calendar = []
    for offset in range(days):
        day = start + datetime.timedelta(days=offset)
        calendar.append(CalendarDay(day, _outcome(day, latest.get(day, {}), now, installed)))
    return calendar


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
