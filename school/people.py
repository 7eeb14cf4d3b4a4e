"""Who the demo school expects on a day: the functions its push targets name in settings."""

import datetime

from django.db.models import Q


def _covering(day: datetime.date, first: str, gone: str) -> Q:
    """Return the people there on `day`: arrived on or before it, not yet gone, and not deactivated.

    An empty first day means "always there"; an empty `gone` day, "still there". A person made
    inactive without a `gone` day is never pushed: nobody knows since when they are away.
    """
    arrived = Q(**{f"{first}__isnull": True}) | Q(**{f"{first}__lte": day})
    still_there = Q(**{f"{gone}__isnull": True}, is_active=True) | Q(**{f"{gone}__gt": day})
    return arrived & still_there


def students_on_day(day: datetime.date) -> Q:
    """Return the students enrolled on `day`."""
    return _covering(day, "enrolled_on", "left_on")


def employees_on_day(day: datetime.date) -> Q:
    """Return the employees employed on `day`."""
    return _covering(day, "joined_on", "left_on")


def employees_on_leave(day: datetime.date) -> Q:
    """Return the employees whose approved leave covers `day`."""
    return Q(leaves__approved=True, leaves__first_day__lte=day, leaves__last_day__gte=day)
