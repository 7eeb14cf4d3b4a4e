"""The pages PushRunAdmin adds to the admin: push days, undo a run, and the JSON the history polls.

Each view takes the PushRunAdmin it serves, as Django's `delete_selected` takes its ModelAdmin. They share
one preamble: `admin_page` refuses a user without the permission, `render` frames a page as the admin's own.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .. import text
from ..conf import conf, write_modes
from ..days import today
from ..exceptions import DayTooOldError, NoActorError, PushError
from ..forms import MAX_DAYS, PushDaysForm, iso_day_error, too_old_words
from ..health import (
    Health,
    interrupt_dead_runs_throttled,
    next_push_text,
    running_clusters,
    stuck_text,
    worker_contacts,
)
from ..ledger.undo import undo
from ..models import PushRun
from ..plan.actor import actor_needed, resolve_actor
from ..push import push
from ..results import HealthProblem
from ..runs import (
    blocking_run,
    queue_pushes,
    queue_undo,
    refuse_days_under_way,
    run_push,
    run_undo,
    start_undo,
)
from ..templatetags.attendance_push import ISO_DAY, day_words
from . import words
from .confirmation import push_confirmation, run_now_refusal, undo_confirmation, undo_run_now_refusal
from .history_calendar import calendar_days

# The columns the status view sends for the history's script to refresh: each takes `live`.
LIVE_FIELDS = ("status_badge", "duration_display", "counts_per_target", "error_line")
# At most this many runs started since the page was loaded are announced by one answer of the status view.
NEW_RUNS = 20
ACTIVE = (PushRun.Status.QUEUED, PushRun.Status.RUNNING)


# The preamble -------------------------------------------------------------------------------------------------


def admin_page(permission: str) -> Callable:
    """Refuse the decorated view to a user without `permission`: "view" (the history) or "push"."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def page(model_admin: admin.ModelAdmin, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if permission == "view":
                allowed = model_admin.has_view_permission(request)
            else:
                allowed = model_admin.has_push_permission(request)
            if not allowed:
                raise PermissionDenied
            return view(model_admin, request, *args, **kwargs)

        return page

    return decorate


def render(
    model_admin: admin.ModelAdmin, request: HttpRequest, template: str, title: str, context: dict, media: Any = None
) -> TemplateResponse:
    """Return the page `template` of the push history, framed as the admin's own pages are."""
    # As Django's own admin views do: the templates' {% url 'admin:…' %} resolve on this site.
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(
        request,
        f"admin/attendance_push/pushrun/{template}",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.opts,
            "media": model_admin.media if media is None else media,
            **context,
        },
    )


# Pushing ------------------------------------------------------------------------------------------------------


@admin_page("push")
def push_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Push now (a day given in the query), or the "Push a day…" form, then its confirmation."""
    data = request.POST if request.method == "POST" else request.GET
    form = PushDaysForm(data or None, initial={"start": today()})
    if form.is_bound and form.is_valid():
        if request.method == "POST" and "confirm" in request.POST:
            return push_confirmed(model_admin, request, form.days())
        return confirmation_page(model_admin, request, form.days(), hidden={"form": form})
    context = {
        "form": form,
        "max_days": MAX_DAYS,
        "zone": conf.TIME_ZONE.key,
        "now_local": push_zone_now(),
    }
    return render(
        model_admin, request, "push_form.html", _("Push a day"), context, media=model_admin.media + form.media
    )


def confirmation_page(
    model_admin: admin.ModelAdmin, request: HttpRequest, days: list[datetime.date], *, hidden: dict
) -> TemplateResponse:
    """Show what pushing `days` will do (a dry run) and ask to confirm; write nothing."""
    refusal = None
    no_actor = False
    previews = []
    blocking = blocking_run(days)
    if blocking is not None:
        refusal = text.under_way(blocking)
    else:
        try:
            previews = [push(day, dry_run=True) for day in days]
        except NoActorError as exc:
            refusal, no_actor = no_actor_words(model_admin, request, exc), True
        except DayTooOldError as exc:
            refusal = too_old_words(exc.day, exc.oldest)
        except PushError as exc:
            refusal = str(exc)
    written = words.written_values() if refusal is None else []
    # "Push closed days too" creates records on them: offered only when there is someone to record as
    # their creator (the closed days themselves need nobody).
    forcing_refusal = None
    if refusal is None and any(preview.closed for preview in previews) and actor_needed(days, include_closed=True):
        try:
            resolve_actor()
        except NoActorError as exc:
            forcing_refusal = no_actor_words(model_admin, request, exc)
    context = {
        **push_confirmation(
            days,
            previews,
            # Read only when the push may go ahead: a refusal may come from the settings themselves.
            modes=write_modes() if refusal is None else {},
            refusal=refusal,
            no_actor=no_actor,
            written=written,
            forcing_refusal=forcing_refusal,
        ),
        **worker_context(model_admin, request),
        "zone": conf.TIME_ZONE.key,
        "now_local": push_zone_now(),
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "push_url": reverse(
            f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_push",
            current_app=model_admin.admin_site.name,
        ),
        **hidden,
    }
    return render(model_admin, request, "push_confirmation.html", _("Push attendance?"), context)


def push_confirmed(model_admin: admin.ModelAdmin, request: HttpRequest, days: list[datetime.date]) -> HttpResponse:
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
            cannot_run_now = run_now_refusal(days, previews, write_modes())
            if cannot_run_now:
                raise PushError(words.run_now_refused_text(cannot_run_now))
            _report(
                model_admin,
                request,
                run_push(days[0], trigger=PushRun.Trigger.ADMIN, requested_by=request.user, include_closed=forced),
            )
        else:
            runs = queue_pushes(days, trigger=PushRun.Trigger.ADMIN, requested_by=request.user, include_closed=forced)
            queued = [run for run in runs if run.status == PushRun.Status.QUEUED]
            for run in runs:
                if run.status == PushRun.Status.FAILED:
                    _report(model_admin, request, run)
            if queued:
                model_admin.message_user(
                    request,
                    format_html(
                        '{} <span class="attendance-push-progress" data-runs="{}"></span>',
                        words.queued_text(queued),
                        ",".join(str(run.pk) for run in queued),
                    ),
                    messages.SUCCESS,
                )
    except PushError as exc:
        model_admin.message_user(request, str(exc), messages.ERROR)
    return HttpResponseRedirect(model_admin._changelist_url())


def _report(model_admin: admin.ModelAdmin, request: HttpRequest, run: PushRun) -> None:
    if run.status == PushRun.Status.SUCCEEDED:
        model_admin.message_user(request, words.pushed_text(run), messages.SUCCESS)
    else:
        model_admin.message_user(request, words.push_failed_text(run), messages.ERROR)


def push_zone_now() -> datetime.datetime:
    """Return the wall-clock time in the push zone, naive so templates do not convert it to TIME_ZONE."""
    return timezone.localtime(timezone=conf.TIME_ZONE).replace(tzinfo=None)


# Undoing ------------------------------------------------------------------------------------------------------


@admin_page("push")
def undo_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """Show what undoing a run will do (a dry run) and ask to confirm; undo it on POST."""
    run = model_admin.get_object(request, object_id)
    if run is None:
        raise Http404(words.no_run_text(object_id))
    change_url = model_admin._change_url(run.pk)
    if request.method == "POST" and "confirm" in request.POST:
        try:
            # Refused before any run is recorded (start_undo, queue_undo): the page may be older than
            # another undo of the run.
            if "run_now" in request.POST:
                # Refused when the undo would not finish inside the request; queueing it is offered.
                cannot_run_now = undo_run_now_refusal(undo(run, dry_run=True), write_modes())
                if cannot_run_now:
                    raise PushError(cannot_run_now)
                undo_run = run_undo(run, run=start_undo(run, requested_by=request.user))
                if undo_run.status == PushRun.Status.SUCCEEDED:
                    model_admin.message_user(request, words.undone_text(run, undo_run), messages.SUCCESS)
                else:
                    model_admin.message_user(request, words.undo_failed_text(run, undo_run), messages.ERROR)
            else:
                undo_run = queue_undo(run, requested_by=request.user)
                model_admin.message_user(request, words.undo_queued_text(run, undo_run), messages.SUCCESS)
        except PushError as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(change_url)
        return HttpResponseRedirect(model_admin._changelist_url())
    preview = None
    refusal = None
    try:
        preview = undo(run, dry_run=True)
    except PushError as exc:
        refusal = str(exc)
    context = {
        **undo_confirmation(run, preview, refusal, modes=write_modes()),
        "workers": running_clusters(),
        "change_url": change_url,
    }
    return render(model_admin, request, "undo_confirmation.html", _("Undo this push?"), context)


# What the history asks while it is open -----------------------------------------------------------------------


@admin_page("view")
def status_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
    """Return the live state of the runs `?ids=1,2,3` as JSON, and with `?after=N` the runs created since run N."""
    try:
        ids = sorted({int(part) for part in request.GET.get("ids", "").split(",") if part.strip()})[:200]
        after = int(request.GET["after"]) if "after" in request.GET else None
    except ValueError:
        return JsonResponse({"error": words.bad_ids_text()}, status=400)
    queryset = model_admin.get_queryset(request).select_related("requested_by")

    def read() -> tuple[list[PushRun], list[PushRun]]:
        # The history asks for new runs every half minute while it is idle: one query when there are none.
        new = list(queryset.filter(pk__gt=after).order_by("pk")[:NEW_RUNS]) if after is not None else []
        return [*(queryset.filter(pk__in=ids) if ids else []), *new], new

    runs, new = read()
    # A run the page watches whose process is gone (a "Run now" cut off by the web server) turns interrupted,
    # with no worker to find it: one check per HEALTH_CACHE_SECONDS, however many pages poll.
    if any(run.status in ACTIVE for run in runs) and interrupt_dead_runs_throttled():
        runs, new = read()
    # An undo that finished changes the row of the run it undid too: "Undone by run N".
    undone = {run.undoes_id for run in runs if run.status == PushRun.Status.SUCCEEDED and run.undoes_id} - {
        run.pk for run in runs
    }
    if undone:
        runs += list(queryset.filter(pk__in=undone))
    data = {
        "runs": {
            str(run.pk): {
                "status": run.status,
                "active": run.status in ACTIVE,
                "cells": {name: str(getattr(model_admin, name)(run, live=False)) for name in LIVE_FIELDS},
            }
            for run in runs
        },
        "days": calendar_days({run.date for run in runs}, timezone.now()),
    }
    if after is not None:
        data["new"] = [{"id": run.pk, "html": _new_run_notice(model_admin, run)} for run in new]
    return JsonResponse(data)


def _new_run_notice(model_admin: admin.ModelAdmin, run: PushRun) -> str:
    """Return the line the history shows for a run that started after the page was loaded."""
    return format_html(
        '<a href="{}">{}</a> {}',
        model_admin._change_url(run.pk),
        words.new_run_text(run),
        model_admin.status_badge(run),
    )


@admin_page("push")
def day_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
    """Return the day `?day=YYYY-MM-DD` in words, for the push form to show beside the field."""
    # The server's words, not the browser's: Chromium has no Nepali month or weekday names.
    value = request.GET.get("day", "").strip()
    text = day_words(value)
    if not text:
        # 2026-02-30 is written right and is no day; 01/12/2026 is written wrong.
        error = forms.DateField.default_error_messages["invalid"] if ISO_DAY.fullmatch(value) else iso_day_error()
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"words": text})


# The next push, the worker and the user to record -------------------------------------------------------------


def worker_context(model_admin: admin.ModelAdmin, request: HttpRequest) -> dict:
    """Return what the confirmations say about the worker running now (a queued push waits for one)."""
    return {
        "workers": running_clusters(),
        "worker_contacts": worker_contacts(),
        "add_user_url": add_user_url(model_admin, request),
    }


def status_context(model_admin: admin.ModelAdmin, request: HttpRequest, health: Health) -> dict:
    """Return what the history says above its calendar about the next push, from `health`: when it is, and the
    warnings that it will not happen or will fail, exactly where the health URL answers 503 for them."""
    problems = health.problems
    context = {
        "workers": health.clusters,
        "next_push": next_push_text(health=health),
        "worker_contacts": worker_contacts(),
        "add_user_url": add_user_url(model_admin, request),
        "no_worker_text": "",
        "no_schedule_text": words.no_schedule_text() if HealthProblem.NO_SCHEDULE in problems else "",
        "no_actor_text": "",
        "stuck_text": stuck_text(health.stuck) if HealthProblem.STUCK in problems else "",
    }
    if HealthProblem.NO_WORKER in problems:
        context["no_worker_text"] = words.no_worker_text(overdue=HealthProblem.OVERDUE in problems)
    if HealthProblem.NO_ACTOR in problems:
        why = no_actor_words(model_admin, request, health.no_actor)
        context["no_actor_text"] = words.next_push_fails_text(health.next_day, why)
    return context


def add_user_url(model_admin: admin.ModelAdmin, request: HttpRequest) -> str:
    """Return the admin's "Add user" page, or "" when this user may not add users (it would answer 403)."""
    site = model_admin.admin_site
    User = get_user_model()  # noqa: N806
    user_admin = site.get_model_admin(User) if site.is_registered(User) else None
    # Django's UserAdmin refuses its add page without the change permission too; ticking "Superuser
    # status" is a change anyway.
    if user_admin is None or not (user_admin.has_add_permission(request) and user_admin.has_change_permission(request)):
        return ""
    try:
        return reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_add", current_app=site.name)
    except NoReverseMatch:
        return ""


def no_actor_words(model_admin: admin.ModelAdmin, request: HttpRequest, exc: NoActorError) -> str:
    """Return what to do about `exc` in the admin: add the user (the page links there), or whom to ask."""
    can_add_user = bool(add_user_url(model_admin, request))
    return words.no_actor_words(exc, can_add_user=can_add_user, contacts=worker_contacts())
