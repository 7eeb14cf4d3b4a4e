"""Template filters of the push pages: dates with their Bikram Sambat twin when the page is in Nepali."""

from __future__ import annotations

import datetime
import re

from django import template
from django.template.defaultfilters import date as date_filter

from ..bikram import bs_date, bs_month, in_nepali

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

register = template.Library()


@register.filter
def bs(day: datetime.date | None) -> str:
    """Return `day` in Bikram Sambat when the page is in Nepali, else nothing."""
    if day is None or not in_nepali():
        return ""
    if isinstance(day, datetime.datetime):
        day = day.date()
    return bs_date(day)


@register.filter
def with_bs(day: datetime.date | None, fmt: str = "") -> str:
    """Return `day` formatted like the `date` filter, followed by "(BS date)" when the page is in Nepali."""
    if day is None:
        return ""
    text = date_filter(day, fmt)
    twin = bs(day)
    return f"{text} ({twin})" if twin else text


@register.filter
def bs_month_name(day: datetime.date | None) -> str:
    """Return the Bikram Sambat month of `day` when the page is in Nepali, else nothing."""
    if day is None or not in_nepali():
        return ""
    return bs_month(day)


@register.filter
def day_words(value: datetime.date | str | None) -> str:
    """Return a day, or its YYYY-MM-DD text, in words ("Tuesday 1 December 2026", in Nepali with its
    Bikram Sambat date); nothing for any other value."""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value.strip()) if ISO_DAY.fullmatch(value.strip()) else None
        except ValueError:
            value = None
    if not isinstance(value, datetime.date):
        return ""
    return with_bs(value, "l j F Y")
