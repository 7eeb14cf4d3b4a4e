"""The words of the domain: every sentence the push, the ledger, the runs and the calendar say to a person.

Made when they are needed, in the active language (the reader's on a page, the pusher's in a run's
stored error). What is stored without a language (a closed day's Reason, a rule's status label) is
worded here when a page is drawn. The pages' own words live with their family (admin, health, forms).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .conf import Target, conf
from .models import PushRun
from .results import Reason, RuleResult, TargetCounts
from .workdays import closed_day_reasons, holiday_name

# --- Closed days --------------------------------------------------------------------------------------


def weekday_names() -> tuple[str, ...]:
    """Return the translated full names of the weekdays, Monday first (as datetime.date.weekday())."""
    return (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))


def reason_text(reason: Reason, fallback: str = "") -> str:
    """Return `reason` (see results.Reason) in the active language, or `fallback` where it can no longer be worded."""
    try:
        kind = reason["kind"]
        if kind == "closure":
            return reason["name"]
        if kind == "weekly_off":
            return _("weekly off (%(weekday)s)") % {"weekday": weekday_names()[reason["weekday"]]}
        if kind == "holiday":
            return holiday_name(reason) or fallback
    except (KeyError, IndexError, TypeError, ValueError, NotImplementedError):
        # A reason stored by another version, or a calendar `holidays` no longer knows.
        pass
    return fallback


def counts_reason(counts: dict[str, Any] | TargetCounts) -> str:
    """Return why a run's counts of one target say its day was closed, in the active language, or ""."""
    if isinstance(counts, dict):
        counts = TargetCounts.from_dict(counts)
    # Runs pushed before reasons were kept in no language have only the words of whoever pushed.
    return reason_text(counts.closed_reason, counts.closed) if counts.closed_reason else counts.closed


def closed_days(
    targets: Iterable[Target], first: datetime.date, last: datetime.date
) -> dict[str, dict[datetime.date, str]]:
    """Return, per target label, the closed days from `first` to `last` with their reasons in the active language."""
    return {
        label: {day: reason_text(reason) for day, reason in by_day.items()}
        for label, by_day in closed_day_reasons(targets, first, last).items()
    }


def closed_for_all(
    targets: Iterable[Target], first: datetime.date, last: datetime.date
) -> dict[datetime.date, list[str]]:
    """Return the days from `first` to `last` closed for every target, with their distinct reasons."""
    per_target = closed_days(targets, first, last)
    if not per_target:
        return {}
    days = set.intersection(*(set(reasons) for reasons in per_target.values()))
    return {day: list(dict.fromkeys(reasons[day] for reasons in per_target.values())) for day in sorted(days)}


def closed_reason(target: Target, day: datetime.date) -> str | None:
    """Return why `day` is closed for `target` ("weekly off (Saturday)", a holiday, a closure), or None if open."""
    return closed_days([target], day, day)[target.label].get(day)


# --- Counts -------------------------------------------------------------------------------------------


def describe_rules(rules: Iterable[dict[str, Any] | RuleResult]) -> str:
    """Return what the rules of one target did in words: "120 Present, 4 Leave, 2 skipped by rule"."""
    rules = [RuleResult.from_dict(rule) if isinstance(rule, dict) else rule for rule in rules]
    created: dict[str, int] = {}
    skipped = 0
    # The default record first: it is what most people get.
    for rule in sorted(rules, key=lambda rule: rule.rule != ""):
        if rule.skipped:
            skipped += rule.skipped
        if rule.created:
            # A status label is kept in the source's words (see plan.values.rule_status): in the reader's language.
            status = _(rule.status) if rule.status else _("records")
            created[status] = created.get(status, 0) + rule.created
    parts = [_("%(count)d %(status)s") % {"count": count, "status": status} for status, count in created.items()]
    if skipped:
        parts.append(_("%(count)d skipped by rule") % {"count": skipped})
    return ", ".join(parts) or _("no records")


def push_counts(created: int, filled: int, skipped: int, corrected: int = 0) -> str:
    """Return what a push did (or would do) in numbers: "0 created, 0 check-outs filled, 8000 skipped, 588000
    earlier records corrected"; the earlier records corrected (changed, or withdrawn) only when there are any."""
    words = _("%(created)d created, %(filled)d check-outs filled, %(skipped)d skipped") % {
        "created": created,
        "filled": filled,
        "skipped": skipped,
    }
    return words + (", " + corrected_words(corrected) if corrected else "")


def save_may_decline() -> str:
    """Say that a preview of a target that writes through save() counts what the host's save() may still decline."""
    return _(
        "written one by one through save(): the host's save() may decline some of these records, "
        "so the push may create fewer than counted here"
    )


def corrected_words(count: int) -> str:
    """Return "N earlier records corrected": unchanged records of earlier pushes changed, or deleted as false."""
    return ngettext("%(count)d earlier record corrected", "%(count)d earlier records corrected", count) % {
        "count": count
    }


def present_or_absent(value: bool) -> str:
    """Return the label of a boolean status: whether the person was there."""
    return _("present") if value else _("absent")


def undo_summary(deleted: int, cleared: int, kept: int) -> str:
    """Return what an undo did: "N records deleted, N check-outs cleared, kept N changed since the push"."""
    return _("%(deleted)d records deleted, %(cleared)d check-outs cleared, kept %(kept)d changed since the push") % {
        "deleted": deleted,
        "cleared": cleared,
        "kept": kept,
    }


# --- Days that cannot be pushed -------------------------------------------------------------------------


def future_day(day: datetime.date, today: datetime.date) -> str:
    """Say that `day` is in the future of the push time zone."""
    return _("%(day)s is in the future (today is %(today)s in %(zone)s); only today and past days can be pushed.") % {
        "day": f"{day:%Y-%m-%d}",
        "today": f"{today:%Y-%m-%d}",
        "zone": conf.TIME_ZONE.key,
    }


def too_old_day(day: datetime.date, oldest: datetime.date) -> str:
    """Say that `day` is further back than MAX_PAST_DAYS, naming the setting (the command line's words)."""
    return _(
        "%(day)s is more than %(max)d days ago (the oldest day that can be pushed is %(oldest)s); "
        "ATTENDANCE_PUSH['MAX_PAST_DAYS'] sets how far back a push may go."
    ) % {
        # isoformat, not %Y: strftime writes the year 1 as "1".
        "day": day.isoformat(),
        "max": conf.MAX_PAST_DAYS,
        "oldest": oldest.isoformat(),
    }


# --- The creator of pushed records ------------------------------------------------------------------------

# Django admin's own msgid of its "Add user" button, looked up in Django's catalogue so that it reads as the
# button does in every language; written as a literal in a gettext call, it would be extracted into ours.
ADMIN_ADD = "Add %(name)s"


def user_admin_words() -> dict[str, str]:
    """Return the words the admin itself shows for adding a superuser: "Users", "Add user", "Superuser status"."""
    meta = get_user_model()._meta
    try:
        superuser = meta.get_field("is_superuser").verbose_name
    except FieldDoesNotExist:
        superuser = "is_superuser"
    return {
        "users": str(capfirst(meta.verbose_name_plural)),
        "add_user": _(ADMIN_ADD) % {"name": meta.verbose_name},
        # Django's Nepali catalogue ends this one with a space.
        "superuser": str(capfirst(superuser)).strip(),
    }


def no_such_actor(actor: str) -> str:
    """Say that ATTENDANCE_PUSH['ACTOR'] names no active user, and how to fix it."""
    return _(
        "ATTENDANCE_PUSH['ACTOR'] is %(actor)r, but no active user has that username. In the admin, "
        "add that user under %(users)s › %(add_user)s (on the server: python manage.py "
        "createsuperuser), or correct the setting."
    ) % {"actor": actor, **user_admin_words()}


def no_superuser() -> str:
    """Say that no active superuser can be recorded as the creator, and how to add one."""
    return (
        _(
            "No active superuser to record as the creator of pushed records. In the admin, add one under "
            "%(users)s › %(add_user)s and tick “%(superuser)s” (on the server: python manage.py "
            "createsuperuser)."
        )
        % user_admin_words()
    )


# --- Settings that depend on the day ------------------------------------------------------------------------


def cannot_import(where: str, path: str, error: Exception) -> str:
    return _("%(where)s: cannot import %(path)r: %(error)s") % {"where": where, "path": path, "error": error}


def not_a_q(where: str, path: str, result: Any) -> str:
    return _("%(where)s: %(path)s(day) returned %(type)s, not a Q or a dict of lookups.") % {
        "where": where,
        "path": path,
        "type": type(result).__name__,
    }


def not_a_values_dict(where: str, path: str, result: Any) -> str:
    return _("%(where)s: %(path)s(day) returned %(type)s, not a dict of field names and values.") % {
        "where": where,
        "path": path,
        "type": type(result).__name__,
    }


def unknown_f(label: str, name: str, prefix: str) -> str:
    return _("%(target)s: F(%(name)r) names neither a field the push sets nor '%(prefix)s…' on the person.") % {
        "target": label,
        "name": name,
        "prefix": prefix,
    }


# --- Writes that cannot be made --------------------------------------------------------------------------------


def statement_refused(label: str, error: BaseException) -> str:
    """Say that the database refuses a statement the push of `label` would run (found by its preview)."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    return _(
        "%(target)s: the database refuses a statement the push would run (%(error)s); check its values "
        "(extra_values, fill_values, rules). Nothing was written."
    ) % {"target": label, "error": f"{type(error).__name__}: {first_line}"}


def other_unique_conflict(label: str) -> str:
    return (
        f"{label}: some records conflict with a unique constraint other than (person, day); "
        "nothing was written. Check the model's unique fields and constraints."
    )


def day_changed(label: str, claimed: int, written: int) -> str:
    return _(
        "%(target)s: the day changed while it was pushed (%(claimed)d records expected, %(written)d written); "
        "nothing was written, push it again."
    ) % {"target": label, "claimed": claimed, "written": written}


# --- Undo refused ----------------------------------------------------------------------------------------------


def undo_of_undo(run: PushRun) -> str:
    return _("Run %(run)d is itself an undo; push %(day)s again instead.") % {
        "run": run.pk,
        "day": f"{run.date:%Y-%m-%d}",
    }


def undo_of_unsucceeded(run: PushRun) -> str:
    return _("Run %(run)d did not succeed (%(status)s): it wrote nothing to undo.") % {
        "run": run.pk,
        "status": run.get_status_display().lower(),
    }


def already_undone(run: PushRun, undo_run: PushRun) -> str:
    return _("Run %(run)d was already undone by run %(undo)d.") % {"run": run.pk, "undo": undo_run.pk}


def undo_under_way(run: PushRun, undo_run: PushRun) -> str:
    """Say why a second undo of `run` is refused while `undo_run` undoes it."""
    return _("The undo of run %(run)d is already under way (%(status)s, run %(undo)d); wait for it to finish.") % {
        "run": run.pk,
        "undo": undo_run.pk,
        "status": undo_run.get_status_display().lower(),
    }


def ledger_pruned(run: PushRun) -> str:
    return _(
        "The ledger of run %(run)d was pruned on %(when)s (KEEP_LEDGER_DAYS): its records can no longer be told "
        "apart from anyone else's."
    ) % {"run": run.pk, "when": f"{timezone.localtime(run.ledger_pruned_at):%Y-%m-%d}"}


def no_ledger(run: PushRun) -> str:
    return _("Run %(run)d has no ledger (it ran before the ledger existed): its records cannot be told apart.") % {
        "run": run.pk
    }


def wrote_nothing(run: PushRun) -> str:
    return _("Run %(run)d wrote nothing: there is nothing to undo.") % {"run": run.pk}


def run_pruned(run_id: int) -> str:
    return _("Run %(run)d no longer exists: it was pruned from the history.") % {"run": run_id}


def target_gone(label: str, run_id: int) -> str:
    return _("%(target)s, pushed by run %(run)d, is no longer installed.") % {"target": label, "run": run_id}


# --- Runs ------------------------------------------------------------------------------------------------------


def under_way(run: PushRun) -> str:
    """Say why a push of `run`'s day is refused while `run` is under way."""
    if run.trigger == PushRun.Trigger.UNDO:
        return _(
            "An undo of %(day)s is already under way (%(status)s, run %(run)s, requested %(at)s %(zone)s); "
            "wait for it to finish."
        ) % _run_words(run)
    return _(
        "The push of %(day)s is already under way (%(status)s, run %(run)s, requested %(at)s %(zone)s); "
        "wait for it to finish."
    ) % _run_words(run)


def _run_words(run: PushRun) -> dict[str, Any]:
    return {
        "day": f"{run.date:%Y-%m-%d}",
        "status": run.get_status_display().lower(),
        "run": run.pk,
        "at": f"{timezone.localtime(run.created_at, conf.TIME_ZONE):%Y-%m-%d %H:%M}",
        "zone": conf.TIME_ZONE.key,
    }


def undo_refused_day_busy(undone: PushRun, run: PushRun) -> str:
    """Say why an undo of `undone` is refused while `run`, another push or undo of its day, is under way."""
    kind = _("an undo") if run.trigger == PushRun.Trigger.UNDO else _("a push")
    return _(
        "The undo of run %(undone)d is refused, and nothing was recorded: %(kind)s of %(day)s is already under way "
        "(%(status)s, run %(run)s, requested %(at)s %(zone)s). Wait for it to finish, then undo again."
    ) % {**_run_words(run), "undone": undone.pk, "kind": kind}


def was_under_way(day: datetime.date) -> str:
    """Say that a push of `day` was under way and has finished meanwhile."""
    return _("The push of %(day)s was already under way; look at the history before pushing it again.") % {
        "day": f"{day:%Y-%m-%d}"
    }


def undo_was_refused(undone: PushRun) -> str:
    """Say that an undo of `undone` was refused because a run of its day was under way, and has finished meanwhile."""
    return _(
        "The undo of run %(undone)d is refused, and nothing was recorded: another run of %(day)s was under way "
        "and has just finished; look at the history before undoing again."
    ) % {"undone": undone.pk, "day": f"{undone.date:%Y-%m-%d}"}


def failure_mail(run: PushRun, link: str | None) -> tuple[str, str]:
    """Return the subject and the message of the e-mail that tells ADMINS `run` failed; `link` opens it."""
    if link is None:
        link = _("PushRun %(run)s (the admin is not installed)") % {"run": run.pk}
    if run.trigger == PushRun.Trigger.UNDO:
        subject = _("Undo of run %(undone)s (push of %(day)s) failed")
        message = _(
            "The undo of run %(undone)s, the push of %(day)s, failed.\n\n"
            "Error: %(error)s\n"
            "Trigger: %(trigger)s\n"
            "Run: %(link)s\n\n"
            "Fix the cause, then undo the push again from the admin (open run %(undone)s, then “Undo this push”) "
            "or with `python manage.py undo_push %(undone)s`.\n\n"
        )
    else:
        subject = _("Attendance push of %(day)s failed")
        message = _(
            "The attendance push of %(day)s failed.\n\n"
            "Error: %(error)s\n"
            "Trigger: %(trigger)s\n"
            "Run: %(link)s\n\n"
            "Fix the cause, then rerun the day from the admin (open the run, then “Rerun this day”) or with "
            "`python manage.py push_attendance --date %(day)s`.\n\n"
        )
    values = {
        "day": f"{run.date:%Y-%m-%d}",
        "undone": run.undoes_id,
        "error": run.error,
        "trigger": run.get_trigger_display(),
        "link": link,
    }
    return subject % values, message % values


# Why a run was marked interrupted, stored as its error (in English, as every stored error is).
STOPPED = (
    "Interrupted: the process running the push stopped before it finished; nothing was written "
    "(the outcome is recorded in the push's own transaction)."
)
STOPPED_ELSEWHERE = (
    "Interrupted: the process running the push stopped before it recorded an outcome. The history is on "
    "another database than the attendance, so whether the push committed cannot be told: check the day's records."
)
NEVER_QUEUED = "Interrupted: the push never reached the task queue; nothing was written."
LOST = (
    "Interrupted: its task left the broker and never started (a worker was killed holding it, or the "
    "broker lost it); nothing was written."
)
