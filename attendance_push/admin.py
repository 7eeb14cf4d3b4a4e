"""The PushRun history in the admin: read-only, newest first."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import PushRun


@admin.register(PushRun)
class PushRunAdmin(admin.ModelAdmin):
    list_display = (
        "date",
        "status_badge",
        "trigger",
        "requested_by",
        "created",
        "filled",
        "skipped",
        "duration_display",
        "error_line",
        "created_at",
    )
    list_display_links = ("date",)
    list_filter = ("status", "trigger")
    date_hierarchy = "date"
    list_select_related = ("requested_by",)
    search_fields = ("error", "task_id")

    class Media:
        css = {"all": ["attendance_push/admin.css"]}

    fieldsets = (
        (None, {"fields": ("date", "status", "trigger", "requested_by")}),
        ("Timing", {"fields": ("created_at", "started_at", "finished_at", "duration_display")}),
        ("Counts", {"fields": ("created", "filled", "skipped", "counts_table")}),
        ("Error", {"fields": ("error", "traceback_block")}),
        ("Task queue", {"fields": ("task_id",)}),
    )
    readonly_fields = (
        "date",
        "status",
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
        "task_id",
    )

    # The history is an audit trail: written by pushes only.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def response_delete(self, request, obj_display, obj_id):
        # Django returns to the admin index when the model cannot be changed; back to the history.
        super().response_delete(request, obj_display, obj_id)
        return HttpResponseRedirect(reverse("admin:attendance_push_pushrun_changelist"))

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

    @admin.display(description="counts per target")
    def counts_table(self, run: PushRun) -> str:
        if not run.counts:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (label, counts.get("created", 0), counts.get("filled", 0), counts.get("skipped", 0))
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
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto;">{}</pre>', run.traceback
        )
