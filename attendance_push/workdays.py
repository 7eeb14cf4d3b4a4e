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

from django.conf import settings
from django.utils.translation import get_language, to_locale

from .conf import Target, conf
from .results import Reason

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
HOLIDAY_KEYS = ("country", "subdiv", "categories")


def holiday_name(reason: Reason) -> str | None:
    """Return the name of the holiday a closed-day `reason` of kind "holiday" gives, in the active language."""
    day = datetime.date.fromisoformat(reason["day"])
    key = _calendar_key(reason["calendar"])
    return _holidays_of_year(key, day.year, holiday_language(key)).get(day)


def closed_day_reasons(
    targets: Iterable[Target], first: datetime.date, last: datetime.date
) -> dict[str, dict[datetime.date, Reason]]:
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
        closed_by: dict[datetime.date, Reason] = {}
        for name, start, end, labels in closures:
            if not _applies(labels, label):
                continue
            day = max(start, first)
            while day <= min(end, last):
                closed_by[day] = {"kind": "closure", "name": name}
                day += datetime.timedelta(days=1)
        reasons: dict[datetime.date, Reason] = {}
        rest = [day for day in span if day not in closed_by]
        if rest:
            # Only for the days no closure decides: the public holidays are not even computed for a day
            # (an evening's push) that a closure closes.
            off = {WEEKDAYS.index(name) for name in target.weekly_off_days if name in WEEKDAYS}
            calendar = target.holiday_calendar
            public = _holidays(calendar, rest[0].year, rest[-1].year)
            open_days = {day for day, labels in working if _applies(labels, label)}
            for day in rest:
                if day in open_days:
                    continue
                if day in public:
                    reasons[day] = {"kind": "holiday", "day": day.isoformat(), "calendar": _calendar_json(calendar)}
                elif day.weekday() in off:
                    reasons[day] = {"kind": "weekly_off", "weekday": day.weekday()}
        reasons.update(closed_by)
        result[label] = dict(sorted(reasons.items()))
    return result


def calendar_configured() -> bool:
    """Return whether any weekly off or public holidays are configured, globally or for a target."""
    return any(target.weekly_off_days or target.holiday_calendar for target in conf.TARGETS) or bool(
        conf.WEEKLY_OFF or conf.HOLIDAYS
    )


def holiday_calendar(options: dict[str, Any], years: Iterable[int], language: str | None = None) -> Any:
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
        language=language,
    )


def holiday_language(key: tuple) -> str | None:
    """Return the `holidays` language that names the calendar `key`'s holidays in Django's active language.

    Else in the site's LANGUAGE_CODE, else in the calendar's own language: never left to `holidays`,
    which would follow the server's locale (LANG) instead.
    """
    supported, default = _calendar_languages(dict(key)["country"])
    for code in (get_language(), settings.LANGUAGE_CODE):
        if not code:
            continue
        wanted = to_locale(code)
        if wanted in supported:
            return wanted
        # Django's "en" or "en-gb" reads a calendar's "en_US" better than its own language.
        same = [language for language in supported if language.split("_")[0] == wanted.split("_")[0]]
        if same:
            return same[0]
    return default


def _applies(labels: list[str] | None, label: str) -> bool:
    return not labels or label in labels


def _holidays(options: dict[str, Any] | None, first_year: int, last_year: int) -> dict[datetime.date, str]:
    if not options:
        return {}
    key = _calendar_key(options)
    language = holiday_language(key)
    days: dict[datetime.date, str] = {}
    for year in range(first_year, last_year + 1):
        days.update(_holidays_of_year(key, year, language))
    return days


def _calendar_key(options: dict[str, Any]) -> tuple:
    return tuple((name, _freeze(options.get(name))) for name in HOLIDAY_KEYS)


def _calendar_json(options: dict[str, Any]) -> dict[str, Any]:
    """Return the calendar options as a run's counts keep them: the keys set, lists for tuples."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in _calendar_key(options) if value}


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple | set) else value


@lru_cache(maxsize=64)
def _holidays_of_year(key: tuple, year: int, language: str | None) -> dict[datetime.date, str]:
    # Computing a year of lunar holidays takes milliseconds; the calendar asks for it on every push.
    # Keyed by language too: the same year's names differ between an English and a Nepali page.
    return dict(holiday_calendar(dict(key), [year], language).items())


@lru_cache(maxsize=32)
def _calendar_languages(country: str) -> tuple[tuple[str, ...], str | None]:
    """Return the languages `holidays` names `country`'s holidays in, and its own language."""
    calendar = holiday_calendar({"country": country}, [])
    return tuple(calendar.supported_languages), calendar.default_language
