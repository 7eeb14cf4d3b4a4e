"""The PushRun history in the admin: read at a glance, push a day, rerun days.

Pushing needs the `attendance_push.push_attendance` permission; reading needs `view_pushrun`.
"""

from __future__ import annotations

import datetime

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from .calendar import LEGEND, history_calendar
from .conf import conf
from .exceptions import PushError
from .forms import MAX_DAYS, PushDaysForm
from .health import running_clusters
from .models import PushRun
from .runs import blocking_run, describe_blocking, queue_pushes, refuse_days_under_way, run_push
from .service import push, today


@admin.register(PushRun)
class PushRunAdmin(admin.ModelAdmin):
    list_display = (
        "date",
        "status_badge",
        "trigger",
        "requested_by",
        "counts_per_target",
        "duration_display",
        "error_line",
    )
    list_display_links = ("date",)
    list_filter = ("status", "trigger")
    date_hierarchy = "date"
    list_select_related = ("requested_by",)
    search_fields = ("error", "task_id")
    actions = ["rerun_days"]
    fieldsets = (
        (None, {"fields": ("date", "status_badge", "trigger", "requested_by")}),
        ("Timing", {"fields": ("created_at", "started_at", "finished_at", "duration_display")}),
        ("Counts", {"fields": ("created", "filled", "skipped", "counts_table")}),
        ("Error", {"fields": ("error", "traceback_block")}),
        ("Task queue", {"fields": ("task_link",)}),
    )
    readonly_fields = (
        "date",
        "status_badge",
        "trigger",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "duration_display",
        "created",
        "filled",
        "skipped",
        "counts_table",
        "error",
        "traceback_block",
        "task_link",
    )

    class Media:
        css = {"all": ["attendance_push/admin.css"]}

    # The history is an audit trail: written by pushes only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_push_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.push_attendance")

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("push/", self.admin_site.admin_view(self.push_view), name="{}_{}_push".format(*info)),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        current = today()
        context = {
            "can_push": self.has_push_permission(request),
            "push_today": current,
            "calendar": history_calendar(current, timezone.now()),
            "legend": LEGEND,
            "workers": running_clusters(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {"can_push": self.has_push_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        # Django returns to the admin index when the model cannot be changed; back to the history.
        super().response_delete(request, obj_display, obj_id)
        return HttpResponseRedirect(self._changelist_url())

    # Pushing ---------------------------------------------------------------------------------

    @admin.action(description="Rerun the selected days", permissions=["push"])
    def rerun_days(self, request: HttpRequest, queryset) -> HttpResponse | None:
        days = sorted(set(queryset.values_list("date", flat=True)))
        if len(days) > MAX_DAYS:
            self.message_user(
                request, f"At most {MAX_DAYS} days at a time; the selection has {len(days)}.", messages.ERROR
            )
            return None
        if request.POST.get("post"):
            return self._push_confirmed(request, days)
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        return self._confirmation(request, days, hidden={"action": "rerun_days", "selected": selected})

    def push_view(self, request: HttpRequest) -> HttpResponse:
        """Push now (a day given in the query), or the "Push a day…" form, then its confirmation."""
        if not self.has_push_permission(request):
            raise PermissionDenied
        # As Django's own admin views do: the templates' {% url 'admin:…' %} resolve on this site.
        request.current_app = self.admin_site.name
        data = request.POST if request.method == "POST" else request.GET
        form = PushDaysForm(data or None, initial={"start": today()})
        if form.is_bound and form.is_valid():
            if request.method == "POST" and "confirm" in request.POST:
                return self._push_confirmed(request, form.days())
            return self._confirmation(request, form.days(), hidden={"form": form})
        context = {
            **self.admin_site.each_context(request),
            "title": "Push a day",
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "zone": conf.TIME_ZONE.key,
            "now_local": timezone.localtime(timezone=conf.TIME_ZONE),
        }
        return TemplateResponse(request, "admin/attendance_push/pushrun/push_form.html", context)

    def _confirmation(self, request: HttpRequest, days: list[datetime.date], *, hidden: dict) -> TemplateResponse:
        """Show what pushing `days` will do (a dry run) and ask to confirm; write nothing."""
        request.current_app = self.admin_site.name
        refusal = None
        previews = []
        blocking = blocking_run(days)
        if blocking is not None:
            refusal = describe_blocking(blocking)
        else:
            try:
                previews = [push(day, dry_run=True) for day in days]
            except PushError as exc:
                refusal = str(exc)
        totals: dict[str, dict[str, int]] = {}
        for preview in previews:
            for label, counts in preview.counts().items():
                row = totals.setdefault(label, {"created": 0, "filled": 0, "skipped": 0})
                for key, value in counts.items():
                    row[key] += value
        context = {
            **self.admin_site.each_context(request),
            "title": "Push attendance?",
            "opts": self.opts,
            "media": self.media,
            "days": days,
            "totals": totals,
            "target_rows": [(target_name(label), counts) for label, counts in totals.items()],
            "previews": previews if len(days) > 1 else [],
            "refusal": refusal,
            "workers": running_clusters(),
            "zone": conf.TIME_ZONE.key,
            "now_local": timezone.localtime(timezone=conf.TIME_ZONE),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "push_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_push", current_app=self.admin_site.name
            ),
            **hidden,
        }
        return TemplateResponse(request, "admin/attendance_push/pushrun/push_confirmation.html", context)

    def _push_confirmed(self, request: HttpRequest, days: list[datetime.date]) -> HttpResponse:
        """Queue the push of `days` (or, when asked, run it in this request) and go back to the history."""
        try:
            if "run_now" in request.POST:
                refuse_days_under_way(days)
                runs = [run_push(day, trigger=PushRun.Trigger.ADMIN, requested_by=request.user) for day in days]
                for run in runs:
                    self._report(request, run)
            else:
                runs = queue_pushes(days, trigger=PushRun.Trigger.ADMIN, requested_by=request.user)
                queued = [run for run in runs if run.status == PushRun.Status.QUEUED]
                for run in runs:
                    if run.status == PushRun.Status.FAILED:
                        self._report(request, run)
                if queued:
                    self.message_user(
                        request,
                        f"Queued the push of {_days_text([run.date for run in queued])} ({_runs_text(queued)}); "
                        "it appears below and updates as the worker runs it.",
                        messages.SUCCESS,
                    )
        except PushError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(self._changelist_url())

    def _report(self, request: HttpRequest, run: PushRun) -> None:
        if run.status == PushRun.Status.SUCCEEDED:
            self.message_user(
                request,
                f"Pushed {run.date:%Y-%m-%d} (run {run.pk}): {run.created} created, {run.filled} check-outs filled, "
                f"{run.skipped} skipped.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, f"The push of {run.date:%Y-%m-%d} failed (run {run.pk}): {run.error}", messages.ERROR
            )

    def _changelist_url(self) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name
        )

    # Columns and fields ---------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: PushRun) -> str:
        return format_html(
            '<span class="attendance-push-badge attendance-push-badge--{}">{}</span>',
            run.status,
            run.get_status_display(),
        )

    @admin.display(description="duration")
    def duration_display(self, run: PushRun) -> str:
        duration = run.duration
        return f"{duration.total_seconds():.2f} s" if duration is not None else "—"

    @admin.display(description="error")
    def error_line(self, run: PushRun) -> str:
        return run.error.splitlines()[0][:120] if run.error else ""

    @admin.display(description="created / filled / skipped")
    def counts_per_target(self, run: PushRun) -> str:
        if not run.counts:
            return "—"
        return format_html_join(
            mark_safe("<br>"),  # noqa: S308 (a constant)
            "{}: {} / {} / {}",
            (
                (target_name(label), c.get("created", 0), c.get("filled", 0), c.get("skipped", 0))
                for label, c in run.counts.items()
            ),
        )

    @admin.display(description="counts per target")
    def counts_table(self, run: PushRun) -> str:
        if not run.counts:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (target_name(label), counts.get("created", 0), counts.get("filled", 0), counts.get("skipped", 0))
                for label, counts in run.counts.items()
            ),
        )
        return format_html(
            "<table><thead><tr><th>target</th><th>created</th><th>check-outs filled</th><th>skipped</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="traceback")
    def traceback_block(self, run: PushRun) -> str:
        if not run.traceback:
            return "—"
        return format_html('<pre class="attendance-push-traceback">{}</pre>', run.traceback)

    @admin.display(description="django-q2 task")
    def task_link(self, run: PushRun) -> str:
        if not run.task_id:
            return "— (run in the foreground, not through the queue)"
        from django_q.models import Task

        task = Task.objects.filter(id=run.task_id).only("id", "success").first()
        if task is None:
            return format_html("{} (waiting in the queue or not saved)", run.task_id)
        try:
            url = reverse(
                f"admin:django_q_{'success' if task.success else 'failure'}_change",
                args=[task.id],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return run.task_id
        return format_html('<a href="{}">{}</a>', url, run.task_id)


def target_name(label: str) -> str:
    """Return the human name of the attendance model `label` ("Student attendance"), or the label itself."""
    try:
        return capfirst(apps.get_model(label)._meta.verbose_name_plural)
    except (LookupError, ValueError):
        return label  # a target removed from the settings since the run


def _days_text(days: list[datetime.date]) -> str:
    if len(days) == 1:
        return f"{days[0]:%Y-%m-%d}"
    return f"{len(days)} days, {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}"


def _runs_text(runs: list[PushRun]) -> str:
    if len(runs) == 1:
        return f"run {runs[0].pk}"
    return f"runs {runs[0].pk}–{runs[-1].pk}"
