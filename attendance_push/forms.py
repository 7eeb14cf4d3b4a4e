"""The admin's "Push a day…" form."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .days import earliest_day, today
from .health import worker_contacts
from .templatetags.attendance_push import ISO_DAY, with_bs

MAX_DAYS = 31


class IsoDateInput(forms.TextInput):
    """A text field that shows and takes YYYY-MM-DD only.

    Not the browser's date picker: Chromium shows that one in the browser's locale (mm/dd/yyyy in
    en-US), where typing 01122026 gives 12 January.
    """

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(
            {
                "placeholder": "YYYY-MM-DD",
                "pattern": ISO_DAY.pattern,
                "maxlength": "10",
                "size": "10",
                "autocomplete": "off",
                "spellcheck": "false",
                **(attrs or {}),
            }
        )

    def format_value(self, value: object) -> str | None:
        if isinstance(value, datetime.date):
            return f"{value:%Y-%m-%d}"
        return super().format_value(value)


class IsoDateField(forms.DateField):
    """A day written year-month-day with four, two and two digits: anything else is refused, not guessed."""

    widget = IsoDateInput
    input_formats = ["%Y-%m-%d"]

    def to_python(self, value: object) -> datetime.date | None:
        if isinstance(value, str) and value.strip() and not ISO_DAY.fullmatch(value.strip()):
            raise forms.ValidationError(iso_day_error(), code="invalid")
        return super().to_python(value)


def iso_day_error() -> str:
    """Return how to write a day, with today as the example."""
    return gettext("Write the day as year-month-day, for example %(example)s.") % {"example": f"{today():%Y-%m-%d}"}


class PushDaysForm(forms.Form):
    start = IsoDateField(
        label=_("Day"),
        help_text=_("The day to push, or the first of a range."),
    )
    end = IsoDateField(
        label=_("Until"),
        required=False,
        help_text=format_lazy(_("Optional: the last day of a range of at most {max} days."), max=MAX_DAYS),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None:
            return cleaned
        end = end or start
        current = today()
        if end > current:
            raise forms.ValidationError(
                _("%(day)s is in the future (today is %(today)s in %(zone)s): only today and past days can be pushed."),
                code="future",
                params={"day": f"{end:%Y-%m-%d}", "today": f"{current:%Y-%m-%d}", "zone": conf.TIME_ZONE.key},
            )
        oldest = earliest_day(current)
        if start < oldest:
            raise forms.ValidationError(too_old_words(start, oldest), code="too_old")
        if start > end:
            raise forms.ValidationError(
                _("The range is reversed: %(start)s is after %(end)s."),
                code="reversed",
                params={"start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"},
            )
        length = (end - start).days + 1
        if length > MAX_DAYS:
            raise forms.ValidationError(
                _("At most %(max)d days at a time; this range has %(length)d."),
                code="too_long",
                params={"max": MAX_DAYS, "length": length},
            )
        cleaned["end"] = end
        return cleaned

    def days(self) -> list[datetime.date]:
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]


def too_old_words(day: datetime.date, oldest: datetime.date) -> str:
    """Return why `day` cannot be pushed from the admin, in an office's words: how far back, and whom to ask."""
    # The command line names the setting (service.validate_day); a clerk cannot change settings.
    text = gettext(
        "%(day)s is too long ago to push: a push goes back at most %(max)d days, "
        "so the oldest day you can push today is %(oldest)s."
    ) % {"day": day.isoformat(), "max": conf.MAX_PAST_DAYS, "oldest": with_bs(oldest, "l j F Y")}
    contacts = worker_contacts()
    if contacts:
        ask = gettext("To push an older day, ask %(contacts)s.") % {"contacts": contacts}
    else:
        ask = gettext("To push an older day, ask the person who looks after this website's server.")
    return f"{text} {ask}"
