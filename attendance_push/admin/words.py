"""The sentences the admin pages build in Python, in the reader's language: the admin's words in one place.

Column headings and link labels stay beside the HTML they label. The domain's own words (what the rules
created, why a day is closed, why a day cannot be pushed) come from the modules that decide them.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

from django.apps import apps
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import text
from ..conf import conf
from ..exceptions import NoActorError, PushError
from ..models import PushRun
from ..plan.actor import resolve_actor
from ..plan.values import planned_records
from ..results import TargetCounts
from ..templatetags.attendance_push import with_bs
from ..text import corrected_words, counts_reason, push_counts, user_admin_words


def target_name(label: str) -> str:
    """Return the human name of the attendance model `label` ("Student attendance"), or the label itself."""
    try:
        # A str in the reader's language, not a lazy name: callers join and format it.
        return str(capfirst(apps.get_model(label)._meta.verbose_name_plural))
    except (LookupError, ValueError):
        return label  # a target removed from the settings since the run


def day_groups(days: list[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Split sorted `days` into runs of consecutive days: [(first, last), …]."""
    groups: list[list[datetime.date]] = []
    for day in days:
        if groups and day - groups[-1][1] == datetime.timedelta(days=1):
            groups[-1][1] = day
        else:
            groups.append([day, day])
    return [(first, last) for first, last in groups]


# Pushing ------------------------------------------------------------------------------------------------------


def pushed_text(run: PushRun) -> str:
    """Return the message of a push run in the request that succeeded, with the targets it found closed.

    It counts every record the push changed: created, check-outs filled, and earlier records corrected
    or withdrawn (see TargetResult.corrected), besides the people skipped.
    """
    return _("Pushed %(day)s (run %(run)s): %(counts)s.") % {
        "day": f"{run.date:%Y-%m-%d}",
        "run": run.pk,
        "counts": push_counts(run.created, run.filled, run.skipped, run.corrected),
    } + _closed_summary(run)


def push_failed_text(run: PushRun) -> str:
    """Return the message of a push that failed, in the request or when it was queued."""
    return _("The push of %(day)s failed (run %(run)s): %(error)s") % {
        "day": f"{run.date:%Y-%m-%d}",
        "run": run.pk,
        "error": run.error,
    }


def queued_text(queued: list[PushRun]) -> str:
    """Return the message of pushes queued for the worker: which days, which runs."""
    return _("Queued the push of %(days)s (%(runs)s); it appears below and updates as the worker runs it.") % {
        "days": _days_text([run.date for run in queued]),
        "runs": _runs_text(queued),
    }


def too_many_days_text(count: int, most: int) -> str:
    """Return why a selection of `count` days is not pushed: at most `most` at a time."""
    return _("At most %(max)d days at a time; the selection has %(count)d.") % {"max": most, "count": count}


def single_day_only_text() -> str:
    """Return why several days are not pushed in the web request."""
    return _("Only a single day runs in this request; queue a range for the worker instead.")


def too_big_text(rows: int, label: str, limit: int) -> str:
    """Return why a push writing `rows` rows to `label` is not run in the web request."""
    return _(
        "This push writes %(rows)s rows to %(target)s, more than one web request can finish in time "
        "(%(limit)s); queue it for the worker instead."
    ) % {"rows": rows, "target": target_name(label), "limit": limit}


def run_now_refused_text(reason: str) -> str:
    """Return the message of a "Run now" refused for `reason`: nothing ran, and nothing was queued."""
    return _("Not run, and nothing was queued: %(reason)s") % {"reason": reason}


def undo_too_big_text(rows: int, label: str, limit: int) -> str:
    """Return why an undo changing `rows` rows of `label` is not run in the web request."""
    return _(
        "This undo changes %(rows)s rows of %(target)s, more than one web request can finish in time "
        "(%(limit)s); queue it for the worker instead."
    ) % {"rows": rows, "target": target_name(label), "limit": limit}


def written_values() -> list[tuple[str, str]]:
    """Return, per target and rule, its label and what a record the push creates holds:
    ("school.StudentAttendance", "Student attendance: Present, 09:00–17:00")."""
    actor = None
    if any(target.created_by_field for target in conf.TARGETS):
        # No actor is fine when every day of the push is closed: its records are never created.
        with contextlib.suppress(NoActorError):
            actor = resolve_actor()
    lines: list[tuple[str, str]] = []
    for target in conf.TARGETS:
        try:
            planned = planned_records(target)
        except PushError as exc:
            lines.append((target.label, f"{target_name(target.label)}: {exc}"))
            continue
        for rule, status, check_in, check_out in reversed(planned):
            # A rule's name is kept as the settings write it: in the reader's language here.
            name = target_name(target.label) if not rule.name else f"{target_name(target.label)}, {_(rule.name)}"
            if rule.skip:
                lines.append((target.label, _("%(name)s: no record") % {"name": name}))
                continue
            parts = [_(status)] if status else []  # kept in the source's words, as the rule's name
            if target.check_in_field and target.check_out_field:
                parts.append(_times_text(check_in, check_out))
            elif target.check_in_field:
                parts.append(
                    _("check-in %(time)s") % {"time": _time_text(check_in)}
                    if check_in is not None
                    else _("no check-in time")
                )
            if target.created_by_field and actor is not None:
                parts.append(_("created by %(user)s") % {"user": actor.get_username()})
            lines.append((target.label, f"{name}: {', '.join(parts)}"))
    return lines


def _times_text(check_in: Any, check_out: Any) -> str:
    """Return a rule's planned times as words: "09:00–17:00", or what it leaves without a time."""
    if check_in is None and check_out is None:
        # A rule for absences (leave, sick): "no time–no time" reads like a fault.
        return _("no check-in or check-out times")
    if check_out is None:
        return _("check-in %(time)s, no check-out time") % {"time": _time_text(check_in)}
    if check_in is None:
        return _("no check-in time, check-out %(time)s") % {"time": _time_text(check_out)}
    return f"{_time_text(check_in)}–{_time_text(check_out)}"


def _time_text(time: Any) -> str:
    """Return a planned time as words: "09:00", or the person's field it is read from."""
    if isinstance(time, datetime.time):
        return f"{time:%H:%M}"
    return _("%(field)s of the person") % {"field": time.path}


def _days_text(days: list[datetime.date]) -> str:
    if len(days) == 1:
        return f"{days[0]:%Y-%m-%d}"
    groups = day_groups(days)
    if len(groups) == 1:
        return _("%(count)d days, %(first)s to %(last)s") % {
            "count": len(days),
            "first": f"{days[0]:%Y-%m-%d}",
            "last": f"{days[-1]:%Y-%m-%d}",
        }
    # Days that are not consecutive are listed one by one: a range would claim the days between.
    return _("%(count)d days: %(days)s") % {
        "count": len(days),
        "days": ", ".join(
            f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}" for first, last in groups
        ),
    }


def _runs_text(runs: list[PushRun]) -> str:
    if len(runs) == 1:
        return _("run %(run)s") % {"run": runs[0].pk}
    pks = [run.pk for run in runs]
    if pks == list(range(pks[0], pks[0] + len(pks))):
        return _("runs %(first)s–%(last)s") % {"first": pks[0], "last": pks[-1]}
    return _("runs %(runs)s") % {"runs": ", ".join(map(str, pks))}


# A run's counts -----------------------------------------------------------------------------------------------


def closed_text(counts: TargetCounts, forced: bool) -> str:
    """Return " — closed: <reason>" (and whether records were created anyway) for a target's counts, or ""."""
    reason = counts_reason(counts)
    if not reason:
        return ""
    if forced:
        return " — " + _("closed: %(reason)s, pushed anyway") % {"reason": reason}
    return " — " + _("closed: %(reason)s") % {"reason": reason}


def _closed_summary(run: PushRun) -> str:
    """Return " Closed: Student attendance (weekly off (Saturday))." ("Closed, pushed anyway: …") for a run, or ""."""
    closed = [
        f"{target_name(label)} ({reason})"
        for label, counts in run.target_counts.items()
        if (reason := counts_reason(counts))
    ]
    if not closed:
        return ""
    if run.include_closed:
        return " " + _("Closed, pushed anyway: %(targets)s.") % {"targets": "; ".join(closed)}
    return " " + _("Closed: %(targets)s.") % {"targets": "; ".join(closed)}


def corrected_text(counts: TargetCounts) -> str:
    """Return " — N earlier records corrected" for a target's counts (see TargetResult.corrected), or ""."""
    if not counts.corrected:
        return ""
    return " — " + corrected_words(counts.corrected)


def undo_summary(run: PushRun) -> str:
    """Return what an undo run did to every target, in one line."""
    counts = run.target_counts.values()
    return text.undo_summary(
        sum(c.deleted for c in counts), sum(c.cleared for c in counts), sum(c.kept for c in counts)
    )


def not_fixed_text() -> str:
    """Return what the page of a failed run says while no later push of its day has succeeded."""
    return _("Not fixed yet: no later push of this day has succeeded.")


def fixed_later_text(pk: int) -> str:
    """Return the link to run `pk`, which pushed a failed run's day later."""
    return _("Run %(run)s pushed this day later.") % {"run": pk}


def undone_by_text(pk: int) -> str:
    """Return the status of a pushed run that run `pk` undid."""
    return _("Undone by run %(run)s") % {"run": pk}


def undoes_deleted_text() -> str:
    """Return what the page of an undo run says when the run it undid was deleted."""
    return _("Undoes a run since deleted from the history.")


def pruned_text(run: PushRun) -> str:
    """Return when the records `run` pushed were pruned from the ledger."""
    return _("Pruned from the ledger on %(day)s (KEEP_LEDGER_DAYS).") % {
        "day": f"{timezone.localtime(run.ledger_pruned_at):%Y-%m-%d}"
    }


def foreground_text() -> str:
    """Return what a run's task field says for a run that did not go through the queue."""
    return _("— (run in the foreground, not through the queue)")


# Undoing ------------------------------------------------------------------------------------------------------


def undone_text(run: PushRun, undo_run: PushRun) -> str:
    """Return the message of an undo run in the request that succeeded."""
    return _("Undid run %(run)d (%(day)s) as run %(undo)d: %(summary)s.") % {
        "run": run.pk,
        "day": f"{run.date:%Y-%m-%d}",
        "undo": undo_run.pk,
        "summary": undo_summary(undo_run),
    }


def undo_failed_text(run: PushRun, undo_run: PushRun) -> str:
    """Return the message of an undo run in the request that failed."""
    return _("The undo of run %(run)d failed (run %(undo)d): %(error)s") % {
        "run": run.pk,
        "undo": undo_run.pk,
        "error": undo_run.error,
    }


def undo_queued_text(run: PushRun, undo_run: PushRun) -> str:
    """Return the message of an undo queued for the worker."""
    return _("Queued the undo of run %(run)d (run %(undo)d); it appears below and updates as the worker runs it.") % {
        "run": run.pk,
        "undo": undo_run.pk,
    }


def no_run_text(object_id: str) -> str:
    """Return why the undo page of a run that does not exist is not found."""
    return _("No push run %(id)s.") % {"id": object_id}


# The history's live state and the worker ----------------------------------------------------------------------


def bad_ids_text() -> str:
    """Return why the status view refused its `ids`."""
    return _("ids must be run numbers separated by commas.")


def new_run_text(run: PushRun) -> str:
    """Return the words of the line the history shows for a run that started after the page was loaded."""
    return _("Run %(run)s, %(day)s (%(trigger)s), started after this page was loaded:") % {
        "run": run.pk,
        "day": date_format(run.date, "D j M Y"),
        "trigger": run.get_trigger_display(),
    }


def no_worker_text(*, overdue: bool) -> str:
    """Return what the history says when no worker has run the schedules for longer than they allow."""
    if overdue:
        # "Tonight's push will not run" is past: it has not, and a returning worker runs it.
        return _(
            "No worker is running: the overdue push and the queued pushes wait until one starts, and run when it does."
        )
    return _("No worker is running: queued pushes wait until one starts, and tonight's push will not run.")


def no_schedule_text() -> str:
    """Return what the history says when the daily push is not registered with the worker."""
    return _(
        "The daily push is not scheduled, so it will not run. Ask the person who looks after this website's "
        "server to run “python manage.py migrate”, which schedules it."
    )


def no_actor_words(exc: NoActorError, *, can_add_user: bool, contacts: str) -> str:
    """Return what to do about `exc` in the admin: add the user (the page links there), or whom to ask."""
    words = user_admin_words()
    if exc.actor is None:
        text = _("No active superuser to record as the creator of pushed records.")
        if can_add_user:
            return "{} {}".format(text, _("Add one under %(users)s › %(add_user)s and tick “%(superuser)s”.") % words)
        if contacts:
            ask = _("Ask %(contacts)s to add one (%(users)s › %(add_user)s, with “%(superuser)s” ticked).")
        else:
            ask = _(
                "Ask the person who manages this website's users to add one "
                "(%(users)s › %(add_user)s, with “%(superuser)s” ticked)."
            )
        return f"{text} {ask % {'contacts': contacts, **words}}"
    text = _("Pushed records are recorded as created by the user “%(actor)s”, but no active user has that name.") % {
        "actor": exc.actor
    }
    if can_add_user:
        return "{} {}".format(text, _("Add that user under %(users)s › %(add_user)s.") % words)
    if contacts:
        ask = _("Ask %(contacts)s to add that user.") % {"contacts": contacts}
    else:
        ask = _("Ask the person who manages this website's users to add that user.")
    return f"{text} {ask}"


def next_push_fails_text(day: datetime.date, why: str) -> str:
    """Return that the next push, of `day`, will fail, and `why`."""
    return "{} {}".format(_("The next push (%(day)s) will fail:") % {"day": with_bs(day, "l j F Y")}, why)


# Closed days --------------------------------------------------------------------------------------------------


def standing_text(name: str, standing: dict[datetime.date, dict[str, int]]) -> str:
    """Return that the closure `name` closes days a push created records on, which stand until pushed again."""
    count = sum(sum(by_target.values()) for by_target in standing.values())
    return ngettext(
        "“%(name)s” closes days a push already created records on: %(days)s. %(count)d pushed record still "
        "stands there until the days are pushed again, which withdraws it.",
        "“%(name)s” closes days a push already created records on: %(days)s. %(count)d pushed records still "
        "stand there until the days are pushed again, which withdraws them.",
        count,
    ) % {
        "name": name,
        "days": ", ".join(f"{day:%Y-%m-%d} ({sum(standing[day].values())})" for day in sorted(standing)),
        "count": count,
    }


def push_again_text(first: str, last: str) -> str:
    """Return the link that pushes the days from `first` to `last` again."""
    if first == last:
        return _("Push %(day)s again") % {"day": first}
    # A range: the push form takes a first and a last day.
    return _("Push %(first)s to %(last)s again") % {"first": first, "last": last}
