"""The app in the admin: the registrations, the ledger's read-only list, and PushedFilter for hosts.

The PushRun history (read at a glance, push a day, rerun days, undo a run) is in `pushrun`, its pages in
`views`, the closed days in `closed_days`. Pushing needs the `attendance_push.push_attendance` permission;
reading needs `view_pushrun`. Closures and working days are edited under their own model permissions.
Hosts import `attendance_push.admin.PushedFilter` and `attendance_push.admin.PushRunAdmin` from here.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import conf
from ..ledger import person_key
from ..models import Closure, PushedRecord, PushRun, WorkingDay
from .closed_days import CalendarAdmin, ClosureAdmin, TargetsField, WorkingDayAdmin
from .pushrun import PushRunAdmin

__all__ = [
    "CalendarAdmin",
    "ClosureAdmin",
    "PushRunAdmin",
    "PushedFilter",
    "PushedRecordAdmin",
    "TargetsField",
    "WorkingDayAdmin",
]


class PushedRecordAdmin(admin.ModelAdmin):
    """The ledger: read-only, one row per record a push created or check-out it filled."""

    list_display = ("person", "day", "action", "target", "run")
    list_filter = ("action", "target")
    search_fields = ("person",)
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The run page links here with ?run=N.
        return lookup in ("run", "run__id__exact") or super().lookup_allowed(lookup, value, request)


class PushedFilter(admin.SimpleListFilter):
    """A list filter for a host's attendance admin: created by a push, check-out filled by one, or neither.

    `list_filter = [PushedFilter, ...]` on the ModelAdmin of a model named in ATTENDANCE_PUSH['TARGETS'].
    Records of an undone push count as not pushed: the undo left only those a person changed.
    """

    title = gettext_lazy("pushed")
    parameter_name = "pushed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (PushedRecord.Action.CREATED, _("created by a push")),
            (PushedRecord.Action.FILLED, _("check-out filled by a push")),
            ("no", _("not pushed")),
        ]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if value not in (PushedRecord.Action.CREATED, PushedRecord.Action.FILLED, "no"):
            return queryset
        model = queryset.model
        target = next((t for t in conf.TARGETS if t.model is model), None)
        if target is None:
            # Not a target: nothing of it was pushed.
            return queryset if value == "no" else queryset.none()
        person = model._meta.get_field(target.person_field).attname
        ledger = PushedRecord.objects.filter(
            ~Exists(PushRun.objects.filter(undoes=OuterRef("run"), status=PushRun.Status.SUCCEEDED)),
            day=OuterRef(target.date_field),
            target=target.label,
            person=person_key(person),
        )
        if value == "no":
            return queryset.filter(~Exists(ledger))
        return queryset.filter(Exists(ledger.filter(action=value)))


admin.site.register(PushRun, PushRunAdmin)
admin.site.register(PushedRecord, PushedRecordAdmin)
admin.site.register(Closure, ClosureAdmin)
admin.site.register(WorkingDay, WorkingDayAdmin)
