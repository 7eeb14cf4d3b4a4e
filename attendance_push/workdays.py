"""The working calendar: is a day open for a target, and if not, why.

A day is closed for a target by a Closure naming it (or naming no target), else open by a
WorkingDay naming it, else closed by a public holiday (`HOLIDAYS`, from the `holidays` package),
else closed by a weekly off (`WEEKLY_OFF`). Decided per day and target, never per person.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext

from .conf import Target, conf

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
HOLIDAY_KEYS = ("country", "subdiv", "categories")


def weekday_name(day: datetime.date) -> str:
    """Return the translated full name of `day`'s weekday."""
    names = (
        gettext("Monday"),
        gettext("Tuesday"),
        gettext("Wednesday"),
        gettext("Thursday"),
        gettext("Friday"),
        gettext("Saturday"),
        gettext("Sunday"),
    )
    return names[day.weekday()]


def closed_reason(target: Target, day: datetime.date) -> str | None:
    """Return why `day` is closed for `target` ("weekly off (Saturday)", a holiday, a closure), or None if open."""
    return closed_days([target], day, day)[target.label].get(day)


def closed_days(
    targets: Iterable[Target], first: datetime.date, last: datetime.date
) -> dict[str, dict[datetime.date, str]]:
    """Return, per target label, the closed days from `first` to `last` with their reasons (two queries)."""
    from .models import Closure, WorkingDay

    targets = list(targets)
    if last < first:
        return {target.label: {} for target in targets}
    closures = list(
        Closure.objects.filter(first_day__lte=last, last_day__gte=first)
        .order_by("first_day", "pk")
        .values_list("name", "first_day", "last_day", "targets")
    )
    working = list(WorkingDay.objects.filter(day__gte=first, day__lte=last).values_list("day", "targets"))
    span = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    result = {}
    for target in targets:
        label = target.label
        # A closure wins over a make-up day: the school that planned to open closed after all.
        closed_by: dict[datetime.date, str] = {}
        for name, start, end, labels in closures:
            if not _applies(labels, label):
                continue
            day = max(start, first)
            while day <= min(end, last):
                closed_by[day] = name
                day += datetime.timedelta(days=1)
        reasons: dict[datetime.date, str] = {}
        rest = [day for day in span if day not in closed_by]
        if rest:
            # Only for the days no closure decides: the public holidays are not even computed for a day
            # (an evening's push) that a closure closes.
            off = {WEEKDAYS.index(name) for name in target.weekly_off_days if name in WEEKDAYS}
            public = _holidays(target.holiday_calendar, rest[0].year, rest[-1].year)
            open_days = {day for day, labels in working if _applies(labels, label)}
            for day in rest:
                if day in open_days:
                    continue
                if day in public:
                    reasons[day] = public[day]
                elif day.weekday() in off:
                    reasons[day] = gettext("weekly off (%(weekday)s)") % {"weekday": weekday_name(day)}
        reasons.update(closed_by)
        result[label] = dict(sorted(reasons.items()))
    return result


def closed_for_all(
    targets: Iterable[Target], first: datetime.date, last: datetime.date
) -> dict[datetime.date, list[str]]:
    """Return the days from `first` to `last` closed for every target, with their distinct reasons."""
    per_target = closed_days(targets, first, last)
    if not per_target:
        return {}
    days = set.intersection(*(set(reasons) for reasons in per_target.values()))
    return {day: list(dict.fromkeys(reasons[day] for reasons in per_target.values())) for day in sorted(days)}


def calendar_configured() -> bool:
    """Return whether any weekly off or public holidays are configured, globally or for a target."""
    return any(target.weekly_off_days or target.holiday_calendar for target in conf.TARGETS) or bool(
        conf.WEEKLY_OFF or conf.HOLIDAYS
    )


def holiday_calendar(options: dict[str, Any], years: Iterable[int]) -> Any:
    """Return the `holidays` calendar the options name; raise what `holidays` raises on unknown codes."""
    import holidays

    categories = options.get("categories")
    if isinstance(categories, str):
        categories = (categories,)
    return holidays.country_holidays(
        options["country"],
        subdiv=options.get("subdiv"),
        years=list(years),
        categories=tuple(categories) if categories else None,
    )


def _applies(labels: list[str] | None, label: str) -> bool:
    return not labels or label in labels


def _holidays(options: dict[str, Any] | None, first_year: int, last_year: int) -> dict[datetime.date, str]:
    if not options:
        return {}
    key = tuple((name, _freeze(options.get(name))) for name in HOLIDAY_KEYS)
    days: dict[datetime.date, str] = {}
    for year in range(first_year, last_year + 1):
        days.update(_holidays_of_year(key, year))
    return days


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple | set) else value


@lru_cache(maxsize=64)
def _holidays_of_year(key: tuple, year: int) -> dict[datetime.date, str]:
    # Computing a year of lunar holidays takes milliseconds; the calendar asks for it on every push.
    return dict(holiday_calendar(dict(key), [year]).items())
