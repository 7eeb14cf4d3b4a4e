"""The admin's "Push a day…" form."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib.admin.widgets import AdminDateWidget

from .conf import conf
from .service import today

MAX_DAYS = 31


class PushDaysForm(forms.Form):
    start = forms.DateField(label="Day", widget=AdminDateWidget, help_text="The day to push, or the first of a range.")
    end = forms.DateField(
        label="Until",
        required=False,
        widget=AdminDateWidget,
        help_text=f"Optional: the last day of a range of at most {MAX_DAYS} days.",
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
                "%(day)s is in the future (today is %(today)s in %(zone)s): only today and past days can be pushed.",
                code="future",
                params={"day": f"{end:%Y-%m-%d}", "today": f"{current:%Y-%m-%d}", "zone": conf.TIME_ZONE.key},
            )
        if start > end:
            raise forms.ValidationError(
                "The range is reversed: %(start)s is after %(end)s.",
                code="reversed",
                params={"start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"},
            )
        length = (end - start).days + 1
        if length > MAX_DAYS:
            raise forms.ValidationError(
                "At most %(max)d days at a time; this range has %(length)d.",
                code="too_long",
                params={"max": MAX_DAYS, "length": length},
            )
        cleaned["end"] = end
        return cleaned

    def days(self) -> list[datetime.date]:
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
