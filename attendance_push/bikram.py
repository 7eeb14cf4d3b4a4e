"""Bikram Sambat (the Nepali calendar) dates for pages shown in Nepali.

BS has no formula: months have 29 to 32 days by an official table. `nepali-datetime` ships that
table (BS 1975-2100, 1918-2044 AD) offline; see the README for why that package.
"""

from __future__ import annotations

import datetime

import nepali_datetime
from django.utils.translation import get_language

_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


def in_nepali() -> bool:
    """Return whether the active language is Nepali."""
    return (get_language() or "").split("-")[0] == "ne"


def bs_date(day: datetime.date) -> str:
    """Return `day` in Bikram Sambat, in Nepali ("२०८३ मंसिर १६"); empty outside the table's years."""
    try:
        bs = nepali_datetime.date.from_datetime_date(day)
    except (ValueError, OverflowError):
        return ""
    return f"{bs.strftime('%K %N')} {str(bs.day).translate(_DIGITS)}"


def bs_month(day: datetime.date) -> str:
    """Return the Bikram Sambat month name of `day`, in Nepali ("मंसिर"); empty outside the table."""
    try:
        return nepali_datetime.date.from_datetime_date(day).strftime("%N")
    except (ValueError, OverflowError):
        return ""


def is_bs_month_start(day: datetime.date) -> bool:
    """Return whether `day` is the first day of a Bikram Sambat month."""
    try:
        return nepali_datetime.date.from_datetime_date(day).day == 1
    except (ValueError, OverflowError):
        return False
