"""Functions of the day that the tests' targets name by dotted path."""

import datetime

from django.db.models import F, Q


def members_on_day(day: datetime.date) -> Q:
    """Return the members with the host on `day` (joined on or before it, not yet left)."""
    return (Q(joined_on__isnull=True) | Q(joined_on__lte=day)) & (Q(left_on__isnull=True) | Q(left_on__gt=day))


def temps(day: datetime.date) -> dict:
    """Return the members of the "Temps" group, as a dict of lookups."""
    return {"group__name": "Temps"}


def ops(day: datetime.date) -> Q:
    """Return the members of the "Ops" group."""
    return Q(group__name="Ops")


def in_any_group(day: datetime.date) -> Q:
    """Return the members with a group."""
    return Q(group__isnull=False)


def not_a_q(day: datetime.date) -> list:
    """Return something that is not people lookups."""
    return ["not", "a", "q"]


def pupils_away(day: datetime.date) -> Q:
    """Return the pupils away (by their name, so that a test can send one away after a push)."""
    return Q(name="Away")


def register_values(day: datetime.date) -> dict:
    """Return the host's columns of a created Register row: the check-in date, the weekday, the hours."""
    return {"check_in_date": day, "weekday": day.strftime("%A"), "worked": F("time_out") - F("time_in")}


def register_fill_values(day: datetime.date) -> dict:
    """Return the host's columns of a filled Register row: the check-out date and the hours."""
    return {"check_out_date": F("day"), "worked": F("time_out") - F("time_in")}


def broken(day: datetime.date) -> dict:
    """Fail, as a host function whose own data is missing would."""
    raise ValueError("no calendar for this year")


def misspelled(day: datetime.date) -> Q:
    """Return lookups on a field the members do not have."""
    return Q(joined__lte=day)
