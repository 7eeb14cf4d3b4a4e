"""The PushRun history in the admin: read at a glance, push a day, rerun days, undo a run.

Pushing needs the `attendance_push.push_attendance` permission; reading needs `view_pushrun`.
"""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..bikram import bs_date, in_nepali
from ..calendar import standing_in
from ..days import today
from ..forms import MAX_DAYS
from ..health import check_health, mark_dead_runs, standing_window
from ..ledger import refusal as undo_refusal
from ..ledger import undone_by
from ..models import PushRun
from ..results import TargetCounts
from ..text import describe_rules
from . import views, words
from .history_calendar import calendar_context
from .words import target_name


class PushRunAdmin(admin.ModelAdmin):
    """The push history, read-only: one row per attempt at a day; its pages (see views) push days and undo runs."""

    # Five columns fit a 1280-px laptop beside the admin's sidebars: the duration sits under the status,
    # the user under the trigger.
    list_display = (
        "day_display",
        "status_badge",
        "requested_display",
        "counts_per_target",
        "error_line",
    )
    list_display_links = ("day_display",)
    # The newest day first, and a day's latest attempt above its earlier ones.
    ordering = ("-date", "-created_at", "-pk")
    list_filter = ("status", "trigger")
    date_hierarchy = "date"
    list_select_related = ("requested_by",)
    search_fields = ("error", "task_id")
    actions = ["rerun_days"]
    fieldsets = (
        (None, {"fields": ("day_display", "status_badge", "trigger", "requested_by", "undo_line")}),
        (gettext_lazy("Timing"), {"fields": ("created_at", "started_at", "finished_at", "duration_display")}),
        (
            gettext_lazy("Counts"),
            {"fields": ("created", "filled", "skipped", "counts_table", "include_closed", "ledger_links")},
        ),
        (gettext_lazy("Error"), {"fields": ("error", "fixed_by_link", "traceback_block")}),
        (gettext_lazy("Task queue"), {"fields": ("task_link",)}),
    )
    readonly_fields = (
        "day_display",
        "status_badge",
        "trigger",
        "requested_by",
        "undo_line",
        "ledger_links",
        "created_at",
        "started_at",
        "finished_at",
        "duration_display",
        "created",
        "filled",
        "skipped",
        "counts_table",
        "include_closed",
        "error",
        "fixed_by_link",
        "traceback_block",
        "task_link",
    )

    class Media:
        css = {"all": ["attendance_push/admin.css"]}
        js = ["attendance_push/admin.js"]

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
            path("push/day/", self.admin_site.admin_view(self.day_view), name="{}_{}_day".format(*info)),
            path("status/", self.admin_site.admin_view(self.status_view), name="{}_{}_status".format(*info)),
            path(
                "<path:object_id>/undo/",
                self.admin_site.admin_view(self.undo_view),
                name="{}_{}_undo".format(*info),
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest):
        # The run that later pushed a failed run's day, for the "fixed by" link: one subquery, not one per row.
        fixed_by = PushRun.objects.filter(
            date=OuterRef("date"), status=PushRun.Status.SUCCEEDED, created_at__gt=OuterRef("created_at")
        ).order_by("created_at", "pk")
        # The undo that took a run back, for its status: "Undone by run N".
        undone_by = PushRun.objects.filter(undoes=OuterRef("pk"), status=PushRun.Status.SUCCEEDED).order_by("pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                fixed_by_pk=Subquery(fixed_by.values("pk")[:1]),
                undone_by_pk=Subquery(undone_by.values("pk")[:1]),
            )
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        current = today()
        now = timezone.now()
        # Before anything is drawn from the runs: a run whose process is gone reads "interrupted", not "running".
        dead = mark_dead_runs(now)
        calendar = calendar_context(current, now)
        # The warnings above the history come from the health check, as the health URL's answer does; its
        # closed days with records still standing are the calendar's (one query for both).
        first = current - datetime.timedelta(days=standing_window() - 1)
        health = check_health(now, dead=dead, standing=tuple(standing_in(calendar["calendar"], first)))
        context = {
            "can_push": self.has_push_permission(request),
            "push_today": current,
            **calendar,
            # The newest run when the page was drawn: the page's script asks for any run after it.
            "latest_run": PushRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
            # Django's own title ("Select %s to view") has no Nepali translation.
            "title": _("Select push run to view"),
            **views.status_context(self, request, health),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        context = {
            "can_push": self.has_push_permission(request),
            "can_undo": run is not None and undo_refusal(run) is None,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    # The pages it adds (see views) -----------------------------------------------------------

    def push_view(self, request: HttpRequest) -> HttpResponse:
        """Push now (a day given in the query), or the "Push a day…" form, then its confirmation."""
        return views.push_view(self, request)

    def undo_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show what undoing a run will do (a dry run) and ask to confirm; undo it on POST."""
        return views.undo_view(self, request, object_id)

    def status_view(self, request: HttpRequest) -> JsonResponse:
        """Return the live state of the runs `?ids=1,2,3` as JSON, and with `?after=N` the runs created since run N."""
        return views.status_view(self, request)

    def day_view(self, request: HttpRequest) -> JsonResponse:
        """Return the day `?day=YYYY-MM-DD` in words, for the push form to show beside the field."""
        return views.day_view(self, request)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        # Django returns to the admin index when the model cannot be changed; back to the history.
        super().response_delete(request, obj_display, obj_id)
        return HttpResponseRedirect(self._changelist_url())

    # The action ------------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Rerun the selected days"), permissions=["push"])
    def rerun_days(self, request: HttpRequest, queryset) -> HttpResponse | None:
        days = sorted(set(queryset.values_list("date", flat=True)))
        if len(days) > MAX_DAYS:
            self.message_user(request, words.too_many_days_text(len(days), MAX_DAYS), messages.ERROR)
            return None
        if request.POST.get("post"):
            return views.push_confirmed(self, request, days)
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        return views.confirmation_page(self, request, days, hidden={"action": "rerun_days", "selected": selected})

    def _changelist_url(self) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name
        )

    # Columns and fields ---------------------------------------------------------------------
    # The fields in views.LIVE_FIELDS take `live`: wrapped in a span that the polling script refreshes.

    @admin.display(description=gettext_lazy("day"), ordering="date")
    def day_display(self, run: PushRun) -> str:
        text = date_format(run.date, "D j M Y")
        if in_nepali():
            return format_html('{}<br><span class="attendance-push-bs">{}</span>', text, bs_date(run.date))
        return text

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, run: PushRun, live: bool = True) -> str:
        undone_by = getattr(run, "undone_by_pk", None)
        if undone_by and run.status == PushRun.Status.SUCCEEDED:
            # Its records were taken back: "Succeeded" would say they stand.
            badge = format_html(
                '<a class="attendance-push-badge attendance-push-badge--undone" href="{}">{}</a>',
                self._change_url(undone_by),
                words.undone_by_text(undone_by),
            )
        else:
            badge = format_html(
                '<span class="attendance-push-badge attendance-push-badge--{}">{}</span>',
                run.status,
                run.get_status_display(),
            )
        if run.duration is not None:
            badge = format_html(
                '{}<span class="attendance-push-duration">{}</span>', badge, self.duration_display(run, live=False)
            )
        return _live(run, "status_badge", badge) if live else badge

    @admin.display(description=gettext_lazy("requested by"), ordering="trigger")
    def requested_display(self, run: PushRun) -> str:
        if run.requested_by is None:
            return run.get_trigger_display()
        return format_html(
            '{}<span class="attendance-push-user">{}</span>', run.get_trigger_display(), run.requested_by
        )

    @admin.display(description=gettext_lazy("duration"))
    def duration_display(self, run: PushRun, live: bool = True) -> str:
        duration = run.duration
        text = _("%(seconds).2f s") % {"seconds": duration.total_seconds()} if duration is not None else "—"
        return _live(run, "duration_display", text) if live else text

    @admin.display(description=gettext_lazy("error"))
    def error_line(self, run: PushRun, live: bool = True) -> str:
        html = mark_safe("")  # noqa: S308 (empty)
        if run.error:
            first = run.error.splitlines()[0]
            # The whole first line, wrapped and cut by CSS (with an ellipsis); the title holds it all for a
            # mouse, and a phone, which has no hover, gets a link to the run's page, which shows the error whole.
            html = format_html(
                '<span class="attendance-push-error" title="{}">{}</span>'
                '<a class="attendance-push-error-whole" href="{}">{}</a>',
                first,
                first,
                self._change_url(run.pk),
                _("Read the whole error"),
            )
        fixed_by = getattr(run, "fixed_by_pk", None)
        if fixed_by and run.status in (PushRun.Status.FAILED, PushRun.Status.INTERRUPTED):
            html = format_html(
                '{}<a class="attendance-push-fixed-by" href="{}">{}</a>',
                html,
                self._change_url(fixed_by),
                _("Fixed by run %(run)s") % {"run": fixed_by},
            )
        return _live(run, "error_line", html) if live else html

    @admin.display(description=gettext_lazy("created / filled / skipped"))
    def counts_per_target(self, run: PushRun, live: bool = True) -> str:
        if not run.counts:
            html = "—"
        elif run.trigger == PushRun.Trigger.UNDO:
            html = words.undo_summary(run)
        else:
            html = format_html_join(
                "", "{}", ((_count_line(label, c, run.include_closed),) for label, c in run.target_counts.items())
            )
        return _live(run, "counts_per_target", html) if live else html

    @admin.display(description=gettext_lazy("counts per target"))
    def counts_table(self, run: PushRun) -> str:
        if not run.counts:
            return "—"
        if run.trigger == PushRun.Trigger.UNDO:
            rows = format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((target_name(label), c.deleted, c.cleared, c.kept) for label, c in run.target_counts.items()),
            )
            return format_html(
                "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
                _("target"),
                _("records deleted"),
                _("check-outs cleared"),
                _("kept (changed since the push)"),
                rows,
            )
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td class="attendance-push-records">{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    target_name(label),
                    counts.created,
                    # Runs from before rules were counted have no rules: their created records say it all.
                    (describe_rules(counts.rules) if counts.rules is not None else "—") + words.corrected_text(counts),
                    counts.filled,
                    counts.skipped,
                    words.closed_text(counts, run.include_closed).lstrip(" —") or _("open"),
                )
                for label, counts in run.target_counts.items()
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("target"),
            _("created"),
            _("records by rule"),
            _("check-outs filled"),
            _("skipped"),
            _("day"),
            rows,
        )

    @admin.display(description=gettext_lazy("fixed by"))
    def fixed_by_link(self, run: PushRun) -> str:
        if run.status not in (PushRun.Status.FAILED, PushRun.Status.INTERRUPTED):
            return "—"
        fixed_by = getattr(run, "fixed_by_pk", None)
        if not fixed_by:
            return words.not_fixed_text()
        return format_html(
            '<a class="attendance-push-fixed-by" href="{}">{}</a>',
            self._change_url(fixed_by),
            words.fixed_later_text(fixed_by),
        )

    @admin.display(description=gettext_lazy("undo"))
    def undo_line(self, run: PushRun) -> str:
        if run.trigger == PushRun.Trigger.UNDO:
            if run.undoes_id is None:
                return words.undoes_deleted_text()
            return format_html(
                '{} <a href="{}">{}</a>', _("Undoes"), self._change_url(run.undoes_id), _("run %d") % run.undoes_id
            )
        undo = undone_by(run)
        if undo is not None:
            return format_html(
                '{} <a href="{}">{}</a>', _("Undone by"), self._change_url(undo.pk), _("run %d") % undo.pk
            )
        return "—"

    @admin.display(description=gettext_lazy("pushed records"))
    def ledger_links(self, run: PushRun) -> str:
        if run.ledger_pruned_at is not None:
            return words.pruned_text(run)
        if not run.pushed:
            return "—"
        url = reverse(f"admin:{self.opts.app_label}_pushedrecord_changelist", current_app=self.admin_site.name)
        return format_html_join(
            mark_safe("<br>"),  # noqa: S308 (a constant)
            '<a href="{}?run={}&amp;target={}">{}</a>',
            ((url, run.pk, label, target_name(label)) for label in run.pushed),
        )

    @admin.display(description=gettext_lazy("traceback"))
    def traceback_block(self, run: PushRun) -> str:
        if not run.traceback:
            return "—"
        # Collapsed: the error line above says what happened; the traceback is for whoever fixes it.
        return format_html(
            '<details class="attendance-push-traceback-box"><summary>{}</summary>'
            '<pre class="attendance-push-traceback">{}</pre></details>',
            _("Show the technical details (for whoever maintains the server)"),
            run.traceback,
        )

    def _change_url(self, pk: int) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[pk], current_app=self.admin_site.name
        )

    @admin.display(description=gettext_lazy("django-q2 task"))
    def task_link(self, run: PushRun) -> str:
        if not run.task_id:
            return words.foreground_text()
        from django_q.models import Task

        task = Task.objects.filter(id=run.task_id).only("id", "success").first()
        if task is None:
            return format_html("{} ({})", run.task_id, _("waiting in the queue or not saved"))
        try:
            url = reverse(
                f"admin:django_q_{'success' if task.success else 'failure'}_change",
                args=[task.id],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return run.task_id
        return format_html('<a href="{}">{}</a>', url, run.task_id)


def _live(run: PushRun, field: str, html: str) -> str:
    return format_html(
        '<span class="attendance-push-live" data-attendance-push-run="{}" data-field="{}" data-status="{}">{}</span>',
        run.pk,
        field,
        run.status,
        html,
    )


def _count_line(label: str, counts: TargetCounts, forced: bool) -> str:
    """Return a target's line of the history's counts column: its numbers, and under them any closure or correction."""
    # On a line of its own: "closed: weekly off (Saturday)" beside the numbers made the column 5-8 lines tall.
    note = (words.closed_text(counts, forced) + words.corrected_text(counts)).removeprefix(" — ")
    return format_html(
        '<span class="attendance-push-count">{}: <span class="nowrap">{} / {} / {}</span>{}</span>',
        target_name(label),
        counts.created,
        counts.filled,
        counts.skipped,
        format_html('<span class="attendance-push-count-note">{}</span>', note) if note else "",
    )
