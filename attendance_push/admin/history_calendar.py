"""The history calendar in the admin: what the history page draws it from, and its days' outcomes as JSON."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.dates import WEEKDAYS_ABBR

from ..calendar import LEGEND, STANDING, UNDONE, calendar_weeks, day_outcomes, history_calendar


def calendar_context(current: datetime.date, now: datetime.datetime) -> dict[str, Any]:
    """Return the history page's context for the calendar of the days up to `current`, as of `now`."""
    calendar = history_calendar(current, now)
    return {
        "calendar": calendar,
        "calendar_weeks": calendar_weeks(calendar),
        # Sunday first: Nepal's week.
        "weekday_names": [WEEKDAYS_ABBR[6], *(WEEKDAYS_ABBR[n] for n in range(6))],
        # The warning of a closed day with pushed records still standing, and the undone days' colour, only
        # where the calendar has such a day.
        "legend": {
            outcome: text
            for outcome, text in LEGEND.items()
            if outcome not in (STANDING, UNDONE) or any(cell.outcome == outcome for cell in calendar)
        },
    }


def calendar_days(days: set[datetime.date], now: datetime.datetime) -> dict[str, str]:
    """Return the outcome of each of `days` as of `now`, keyed "YYYY-MM-DD", for the history's script."""
    outcomes = day_outcomes(days, now) if days else {}
    return {f"{day:%Y-%m-%d}": outcome for day, outcome in outcomes.items()}
