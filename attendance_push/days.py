"""Which days a push takes: today in the push time zone, and no day in the future or too far back."""

from __future__ import annotations

import datetime

from django.utils import timezone

from . import text
from .conf import conf
from .exceptions import DayTooOldError, PushError


def today() -> datetime.date:
    """Return today's date in the push time zone."""
    return timezone.localdate(timezone=conf.TIME_ZONE)


def earliest_day(current: datetime.date | None = None) -> datetime.date:
    """Return the oldest day a push accepts: MAX_PAST_DAYS before today in the push time zone."""
    current = current or today()
    try:
        return current - datetime.timedelta(days=conf.MAX_PAST_DAYS)
    except OverflowError:
        return datetime.date.min


def validate_day(day: datetime.date) -> datetime.date:
    """Return `day`, or raise PushError when it is in the future of the push time zone or too far back."""
    current = today()
    if day > current:
        raise PushError(text.future_day(day, current))
    oldest = earliest_day(current)
    if day < oldest:
        raise DayTooOldError(text.too_old_day(day, oldest), day=day, oldest=oldest)
    return day
