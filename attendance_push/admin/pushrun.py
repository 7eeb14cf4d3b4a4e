"""The PushRun history in the admin: read at a glance, push a day, rerun days, undo a run.

Pushing needs the `attendance_push.push_attendance` permission; reading needs `view_pushrun`.
"""

from __future__ import annotations

import contextlib
import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..bikram import bs_date, in_nepali
from ..calendar import LEGEND, STANDING, calendar_weeks, day_outcomes, history_calendar
from ..conf import conf
from ..exceptions import DayTooOldError, NoActorError, PushError
from ..forms import MAX_DAYS, PushDaysForm, iso_day_error, too_old_words
from ..health import is_overdue, next_push_text, running_clusters, worker_contacts
from ..ledger import refusal as undo_refusal
from ..ledger import undo, undone_by
from ..models import PushRun
from ..runs import (
    blocking_run,
    describe_blocking,
    queue_pushes,
    queue_undo,
    refuse_days_under_way,
    run_push,
    run_undo,
)
from ..schedule import daily_next_run, next_push_after
from ..service import (
    actor_needed,
    describe_rules,
    push,
    resolve_actor,
    today,
)
from ..templatetags.attendance_push import ISO_DAY, day_words
from . import words
from .words import target_name


class PushRunAdmin(admin.ModelAdmin):
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
        return super().get_queryset(request).annotate(fixed_by_pk=Subquery(fixed_by.values("pk")[:1]))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        current = today()
        now = timezone.now()
        calendar = history_calendar(current, now)
        context = {
            "can_push": self.has_push_permission(request),
            "push_today": current,
            "calendar": calendar,
            "calendar_weeks": calendar_weeks(calendar),
            # Sunday first: Nepal's week.
            "weekday_names": [WEEKDAYS_ABBR[6], *(WEEKDAYS_ABBR[n] for n in range(6))],
            # The warning of a closed day with pushed records still standing only where there is one.
            "legend": {
                outcome: text
                for outcome, text in LEGEND.items()
                if outcome != STANDING or any(cell.outcome == STANDING for cell in calendar)
            },
            # The newest run when the page was drawn: the page's script asks for any run after it.
            "latest_run": PushRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
            # Django's own title ("Select %s to view") has no Nepali translation.
            "title": _("Select push run to view"),
            **self._clock_context(now, request),
            "no_actor_text": self._next_push_no_actor(request, now),
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

    def status_view(self, request: HttpRequest) -> JsonResponse:
        """Return the live state of the runs `?ids=1,2,3` as JSON, and with `?after=N` the runs created since run N."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            ids = sorted({int(part) for part in request.GET.get("ids", "").split(",") if part.strip()})[:200]
            after = int(request.GET["after"]) if "after" in request.GET else None
        except ValueError:
            return JsonResponse({"error": words.bad_ids_text()}, status=400)
        queryset = self.get_queryset(request).select_related("requested_by")
        # The history asks for new runs every half minute while it is idle: one query when there are none.
        new = list(queryset.filter(pk__gt=after).order_by("pk")[:NEW_RUNS]) if after is not None else []
        runs = [*(queryset.filter(pk__in=ids) if ids else []), *new]
        outcomes = day_outcomes({run.date for run in runs}, timezone.now()) if runs else {}
        data = {
            "runs": {
                str(run.pk): {
                    "status": run.status,
                    "active": run.status in (PushRun.Status.QUEUED, PushRun.Status.RUNNING),
                    "cells": {name: str(getattr(self, name)(run, live=False)) for name in LIVE_FIELDS},
                }
                for run in runs
            },
            "days": {f"{day:%Y-%m-%d}": outcome for day, outcome in outcomes.items()},
        }
        if after is not None:
            data["new"] = [{"id": run.pk, "html": self._new_run_notice(run)} for run in new]
        return JsonResponse(data)

    def day_view(self, request: HttpRequest) -> JsonResponse:
        """Return the day `?day=YYYY-MM-DD` in words, for the push form to show beside the field."""
        if not self.has_push_permission(request):
            raise PermissionDenied
        # The server's words, not the browser's: Chromium has no Nepali month or weekday names.
        value = request.GET.get("day", "").strip()
        words = day_words(value)
        if not words:
            # 2026-02-30 is written right and is no day; 01/12/2026 is written wrong.
            error = forms.DateField.default_error_messages["invalid"] if ISO_DAY.fullmatch(value) else iso_day_error()
            return JsonResponse({"error": str(error)}, status=400)
        return JsonResponse({"words": words})

    def _new_run_notice(self, run: PushRun) -> str:
        """Return the line the history shows for a run that started after the page was loaded."""
        return format_html(
            '<a href="{}">{}</a> {}',
            self._change_url(run.pk),
            words.new_run_text(run),
            self.status_badge(run),
        )

    def _clock_context(self, now: datetime.datetime, request: HttpRequest) -> dict:
        """Return what the pages say about the next push and the worker."""
        workers = running_clusters()
        context = {
            "workers": workers,
            "next_push": next_push_text(now, workers),
            "worker_contacts": worker_contacts(),
            "add_user_url": self._add_user_url(request),
        }
        if not workers and is_overdue(daily_next_run(), now):
            context["no_worker_text"] = words.no_worker_text()
        return context

    def _add_user_url(self, request: HttpRequest) -> str:
        """Return the admin's "Add user" page, or "" when this user may not add users (it would answer 403)."""
        User = get_user_model()  # noqa: N806
        user_admin = self.admin_site.get_model_admin(User) if self.admin_site.is_registered(User) else None
        # Django's UserAdmin refuses its add page without the change permission too; ticking "Superuser
        # status" is a change anyway.
        if user_admin is None or not (
            user_admin.has_add_permission(request) and user_admin.has_change_permission(request)
        ):
            return ""
        try:
            return reverse(
                f"admin:{User._meta.app_label}_{User._meta.model_name}_add", current_app=self.admin_site.name
            )
        except NoReverseMatch:
            return ""

    def _no_actor_words(self, request: HttpRequest, exc: NoActorError) -> str:
        """Return what to do about `exc` in the admin: add the user (the page links there), or whom to ask."""
        return words.no_actor_words(exc, can_add_user=bool(self._add_user_url(request)), contacts=worker_contacts())

    def _next_push_no_actor(self, request: HttpRequest, now: datetime.datetime) -> str:
        """Return why the next push will fail for want of a user to record, or "" (a closed day needs none)."""
        instant = daily_next_run() or next_push_after(now)
        day = instant.astimezone(conf.TIME_ZONE).date()
        if not actor_needed([day]):
            return ""
        try:
            resolve_actor()
        except NoActorError as exc:
            return words.next_push_fails_text(day, self._no_actor_words(request, exc))
        return ""

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        # Django returns to the admin index when the model cannot be changed; back to the history.
        super().response_delete(request, obj_display, obj_id)
        return HttpResponseRedirect(self._changelist_url())

    # Pushing ---------------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Rerun the selected days"), permissions=["push"])
    def rerun_days(self, request: HttpRequest, queryset) -> HttpResponse | None:
        days = sorted(set(queryset.values_list("date", flat=True)))
        if len(days) > MAX_DAYS:
            self.message_user(request, words.too_many_days_text(len(days), MAX_DAYS), messages.ERROR)
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
            "title": _("Push a day"),
            "opts": self.opts,
            "form": form,
            "max_days": MAX_DAYS,
            "media": self.media + form.media,
            "zone": conf.TIME_ZONE.key,
            "now_local": push_zone_now(),
        }
        return TemplateResponse(request, "admin/attendance_push/pushrun/push_form.html", context)

    def _confirmation(self, request: HttpRequest, days: list[datetime.date], *, hidden: dict) -> TemplateResponse:
        """Show what pushing `days` will do (a dry run) and ask to confirm; write nothing."""
        request.current_app = self.admin_site.name
        refusal = None
        no_actor = False
        previews = []
        blocking = blocking_run(days)
        if blocking is not None:
            refusal = describe_blocking(blocking)
        else:
            try:
                previews = [push(day, dry_run=True) for day in days]
            except NoActorError as exc:
                refusal, no_actor = self._no_actor_words(request, exc), True
            except DayTooOldError as exc:
                refusal = too_old_words(exc.day, exc.oldest)
            except PushError as exc:
                refusal = str(exc)
        totals: dict[str, dict[str, int]] = {}
        for preview in previews:
            for label, counts in preview.counts().items():
                row = totals.setdefault(label, {"created": 0, "filled": 0, "skipped": 0, "rules": []})
                for key in ("created", "filled", "skipped"):
                    row[key] += counts[key]
                if counts.get("corrected"):
                    # As in a run's counts: there only when an earlier push left something to correct.
                    row["corrected"] = row.get("corrected", 0) + counts["corrected"]
                row["rules"].extend(counts["rules"])
        records = {label: describe_rules(counts["rules"]) for label, counts in totals.items()}
        cannot_run_now = run_now_refusal(days, previews) if refusal is None else None
        # Listed before anything is written: per day, the attendance it is closed for (no records unless
        # forced) and the attendance that still gets records.
        closed_rows = [
            (
                preview.day,
                [(target_name(label), reason) for label, reason in preview.closed.items()],
                [target_name(result.label) for result in preview.targets if result.label not in preview.closed],
            )
            for preview in previews
            if preview.closed
        ]
        # Attendance closed on every day pushed gets no records unless forced: not among what records hold.
        closed_throughout = set.intersection(*(set(preview.closed) for preview in previews)) if previews else set()
        written = words.written_values() if refusal is None else []
        # "Push closed days too" creates records on them: offered only when there is someone to record as
        # their creator (the closed days themselves need nobody).
        forcing_refusal = None
        if refusal is None and closed_rows and actor_needed(days, include_closed=True):
            try:
                resolve_actor()
            except NoActorError as exc:
                forcing_refusal = self._no_actor_words(request, exc)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Push attendance?"),
            "can_run_now": refusal is None and cannot_run_now is None,
            "run_now_refusal": cannot_run_now,
            "opts": self.opts,
            "media": self.media,
            "days": days,
            "totals": totals,
            "target_rows": [(target_name(label), counts, records[label]) for label, counts in totals.items()],
            "previews": previews if len(days) > 1 else [],
            "closed_rows": closed_rows,
            # Shown only when an earlier push of these days left records to correct or withdraw.
            "any_corrected": any(row.get("corrected") for row in totals.values()),
            "forcing_refusal": forcing_refusal,
            "refusal": refusal,
            "no_actor": no_actor,
            "day_groups": words.day_groups(days),
            "written": [line for label, line in written if label not in closed_throughout],
            "written_if_forced": [line for label, line in written if label in closed_throughout],
            "partly_closed": len(days) == 1 and bool(closed_rows) and bool(closed_rows[0][2]),
            **self._clock_context(timezone.now(), request),
            "zone": conf.TIME_ZONE.key,
            "now_local": push_zone_now(),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "push_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_push", current_app=self.admin_site.name
            ),
            **hidden,
        }
        return TemplateResponse(request, "admin/attendance_push/pushrun/push_confirmation.html", context)

    def _push_confirmed(self, request: HttpRequest, days: list[datetime.date]) -> HttpResponse:
        """Queue the push of `days` (or, when asked, run it in this request) and go back to the history."""
        # "Push closed days too", recorded on each run.
        forced = request.POST.get("include_closed") == "yes"
        try:
            if "run_now" in request.POST:
                refuse_days_under_way(days)
                try:
                    previews = [push(day, dry_run=True, include_closed=forced) for day in days]
                except PushError:
                    previews = []  # the push itself fails the same way, and records it
                cannot_run_now = run_now_refusal(days, previews)
                if cannot_run_now:
                    raise PushError(cannot_run_now)
                self._report(
                    request,
                    run_push(days[0], trigger=PushRun.Trigger.ADMIN, requested_by=request.user, include_closed=forced),
                )
            else:
                runs = queue_pushes(
                    days, trigger=PushRun.Trigger.ADMIN, requested_by=request.user, include_closed=forced
                )
                queued = [run for run in runs if run.status == PushRun.Status.QUEUED]
                for run in runs:
                    if run.status == PushRun.Status.FAILED:
                        self._report(request, run)
                if queued:
                    self.message_user(
                        request,
                        format_html(
                            '{} <span class="attendance-push-progress" data-runs="{}"></span>',
                            words.queued_text(queued),
                            ",".join(str(run.pk) for run in queued),
                        ),
                        messages.SUCCESS,
                    )
        except PushError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(self._changelist_url())

    def _report(self, request: HttpRequest, run: PushRun) -> None:
        if run.status == PushRun.Status.SUCCEEDED:
            self.message_user(request, words.pushed_text(run), messages.SUCCESS)
        else:
            self.message_user(request, words.push_failed_text(run), messages.ERROR)

    # Undoing ---------------------------------------------------------------------------------

    def undo_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show what undoing a run will do (a dry run) and ask to confirm; undo it on POST."""
        if not self.has_push_permission(request):
            raise PermissionDenied
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(words.no_run_text(object_id))
        request.current_app = self.admin_site.name
        change_url = self._change_url(run.pk)
        if request.method == "POST" and "confirm" in request.POST:
            try:
                reason = undo_refusal(run)
                if reason:
                    # Refused before any run is recorded, as the queued path does.
                    raise PushError(reason)
                if "run_now" in request.POST:
                    undo_run = run_undo(run, requested_by=request.user)
                    if undo_run.status == PushRun.Status.SUCCEEDED:
                        self.message_user(request, words.undone_text(run, undo_run), messages.SUCCESS)
                    else:
                        self.message_user(request, words.undo_failed_text(run, undo_run), messages.ERROR)
                else:
                    undo_run = queue_undo(run, requested_by=request.user)
                    self.message_user(request, words.undo_queued_text(run, undo_run), messages.SUCCESS)
            except PushError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(change_url)
            return HttpResponseRedirect(self._changelist_url())
        preview = None
        refusal = None
        try:
            preview = undo(run, dry_run=True)
        except PushError as exc:
            refusal = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Undo this push?"),
            "opts": self.opts,
            "media": self.media,
            "run": run,
            "preview": preview,
            "rows": [(target_name(t.label), t) for t in preview.targets] if preview else [],
            "refusal": refusal,
            "workers": running_clusters(),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/attendance_push/pushrun/undo_confirmation.html", context)

    def _changelist_url(self) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name
        )

    # Columns and fields ---------------------------------------------------------------------
    # The fields in LIVE_FIELDS take `live`: wrapped in a span that the polling script refreshes.

    @admin.display(description=gettext_lazy("day"), ordering="date")
    def day_display(self, run: PushRun) -> str:
        text = date_format(run.date, "D j M Y")
        if in_nepali():
            return format_html('{}<br><span class="attendance-push-bs">{}</span>', text, bs_date(run.date))
        return text

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, run: PushRun, live: bool = True) -> str:
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
                "", "{}", ((_count_line(label, c, run.include_closed),) for label, c in run.counts.items())
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
                (
                    (target_name(label), c.get("deleted", 0), c.get("cleared", 0), c.get("kept", 0))
                    for label, c in run.counts.items()
                ),
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
                    counts.get("created", 0),
                    # Runs from before rules were counted have no "rules": their created records say it all.
                    (describe_rules(counts["rules"]) if "rules" in counts else "—") + words.corrected_text(counts),
                    counts.get("filled", 0),
                    counts.get("skipped", 0),
                    words.closed_text(counts, run.include_closed).lstrip(" —") or _("open"),
                )
                for label, counts in run.counts.items()
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


# "Run it now in this request" must fit in one request: gunicorn's worker timeout and Heroku's
# router cut it at 30 s, and a request killed midway would leave days silently unpushed. Rows
# written per target (records created + check-outs filled) that stay well inside that at the speeds
# measured in the README (set-based: a million rows in seconds; "save": 20,000 people in 10-31 s).
RUN_NOW_MAX_ROWS = {"sql": 100_000, "save": 1_000}


def run_now_refusal(days: list[datetime.date], previews: list) -> str | None:
    """Return why pushing `days` in the web request is not offered (their previews given), or None."""
    if len(days) != 1:
        return words.single_day_only_text()
    modes = {}
    for target in conf.TARGETS:
        with contextlib.suppress(LookupError, ValueError):
            modes[target.label] = target.write
    for preview in previews:
        for result in preview.targets:
            limit = RUN_NOW_MAX_ROWS.get(modes.get(result.label, "sql"), RUN_NOW_MAX_ROWS["save"])
            rows = result.created + result.filled
            if rows > limit:
                return words.too_big_text(rows, result.label, limit)
    return None


def push_zone_now() -> datetime.datetime:
    """Return the wall-clock time in the push zone, naive so templates do not convert it to TIME_ZONE."""
    return timezone.localtime(timezone=conf.TIME_ZONE).replace(tzinfo=None)


LIVE_FIELDS = ("status_badge", "duration_display", "counts_per_target", "error_line")
# At most this many runs started since the page was loaded are announced by one answer of the status view.
NEW_RUNS = 20


def _live(run: PushRun, field: str, html: str) -> str:
    return format_html(
        '<span class="attendance-push-live" data-attendance-push-run="{}" data-field="{}" data-status="{}">{}</span>',
        run.pk,
        field,
        run.status,
        html,
    )


def _count_line(label: str, counts: dict, forced: bool) -> str:
    """Return a target's line of the history's counts column: its numbers, and under them any closure or correction."""
    # On a line of its own: "closed: weekly off (Saturday)" beside the numbers made the column 5-8 lines tall.
    note = (words.closed_text(counts, forced) + words.corrected_text(counts)).removeprefix(" — ")
    return format_html(
        '<span class="attendance-push-count">{}: <span class="nowrap">{} / {} / {}</span>{}</span>',
        target_name(label),
        counts.get("created", 0),
        counts.get("filled", 0),
        counts.get("skipped", 0),
        format_html('<span class="attendance-push-count-note">{}</span>', note) if note else "",
    )
