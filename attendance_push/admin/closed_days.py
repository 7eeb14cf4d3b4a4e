"""The closed days in the admin: closures and working days, edited under their own model permissions."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import conf
from ..days import earliest_day, today
from ..forms import MAX_DAYS
from ..ledger import standing_on_closed_days
from ..models import Closure, WorkingDay
from . import words
from .words import target_name


class TargetsField(forms.MultipleChoiceField):
    """The attendance models a closure or a working day applies to: none ticked means all of them."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.pop("max_length", None)
        super().__init__(**kwargs)
        self.required = False
        self.choices = [(target.label, f"{target_name(target.label)} ({target.label})") for target in conf.TARGETS]


class CalendarAdmin(admin.ModelAdmin):
    """Closures and working days: edited under their own model permissions."""

    formfield_overrides = {models.JSONField: {"form_class": TargetsField}}

    @admin.display(description=gettext_lazy("attendance"))
    def targets_display(self, obj: Closure | WorkingDay) -> str:
        return ", ".join(target_name(label) for label in obj.targets) or _("all")


class ClosureAdmin(CalendarAdmin):
    list_display = ("name", "first_day", "last_day", "targets_display", "created_by", "created_at")
    date_hierarchy = "first_day"
    search_fields = ("name", "note")
    fields = ("name", "first_day", "last_day", "targets", "note", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request: HttpRequest, obj: Closure, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        self._warn_of_standing_records(request, obj)

    def _warn_of_standing_records(self, request: HttpRequest, closure: Closure) -> None:
        """Warn when `closure` closes days a push already created records on: they stand until pushed again."""
        last = min(closure.last_day, today())
        if closure.first_day > last:
            return
        days = {closure.first_day + datetime.timedelta(days=n) for n in range((last - closure.first_day).days + 1)}
        labels = [target.label for target in conf.TARGETS if not closure.targets or target.label in closure.targets]
        standing = standing_on_closed_days(dict.fromkeys(labels, days))
        if not standing:
            return
        affected = sorted(standing)
        text = words.standing_text(closure.name, standing)
        # The push form takes at most MAX_DAYS days, none older than MAX_PAST_DAYS: the link asks for what it
        # accepts (the days beyond it are listed above).
        pushable = [day for day in affected if day >= earliest_day()]
        if not pushable or not request.user.has_perm("attendance_push.push_attendance"):
            self.message_user(request, text, messages.WARNING)
            return
        last = max(day for day in pushable if day < pushable[0] + datetime.timedelta(days=MAX_DAYS))
        url = reverse("admin:attendance_push_pushrun_push", current_app=self.admin_site.name)
        query = {"start": f"{pushable[0]:%Y-%m-%d}", "end": f"{last:%Y-%m-%d}"}
        link = words.push_again_text(query["start"], query["end"])
        self.message_user(
            request, format_html('{} <a href="{}?{}">{}</a>', text, url, urlencode(query), link), messages.WARNING
        )


class WorkingDayAdmin(CalendarAdmin):
    list_display = ("day", "name", "targets_display")
    date_hierarchy = "day"
    search_fields = ("name",)
