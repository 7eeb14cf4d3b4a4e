"""The admin's "Push a day…" form."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .health import worker_contacts
from .service import earliest_day, today
from .templatetags.attendance_push import with_bs

MAX_DAYS = 31


class IsoDateInput(forms.DateInput):
    """The browser's own date picker, whose value is always YYYY-MM-DD: 01/12/2026 cannot be misread."""

    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class PushDaysForm(forms.Form):
    start = forms.DateField(
        label=_("Day"),
        widget=IsoDateInput,
        input_formats=["%Y-%m-%d"],
        help_text=_("The day to push, or the first of a range."),
    )
    end = forms.DateField(
        label=_("Until"),
        required=False,
        widget=IsoDateInput,
        input_formats=["%Y-%m-%d"],
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
