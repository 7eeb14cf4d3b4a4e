"""Push attempts as PushRuns: run now, queue for the worker, catch up missed days, report failures.

The set-based work itself is `service.push`; this module decides which day to push, records the
attempt and tells the site's ADMINS when one fails.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time

from django.apps import apps
from django.core.mail import mail_admins
from django.db import DatabaseError, IntegrityError, connections, models, router, transaction
from django.db.models import Min, OuterRef, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from . import text
from .conf import conf
from .days import validate_day
from .exceptions import PushError
from .ledger import refusal, undone_by
from .ledger.undo import undo
from .liveness import (
    heartbeat,
    mark_never_finishing_interrupted,
    never_finishing_ids,
    shares_database,
)
from .models import PushedRecord, PushRun
from .push import push
from .results import PushResult
from .schedule import daily_next_run, push_instant
from .sql import refresh_statistics
from .text import closed_for_all

logger = logging.getLogger("attendance_push")

# A scheduled push that starts this long after its instant was missed, not merely queued.
LATE_AFTER = datetime.timedelta(minutes=15)


def run_push(
    day: datetime.date,
    *,
    trigger: str,
    requested_by: models.Model | None = None,
    run: PushRun | None = None,
    include_closed: bool = False,
) -> PushRun:
    """Push `day` and record the attempt in a PushRun (a new one unless `run` is given).

    With `include_closed` (or a `run` recorded with it), create records on a closed day too.

    A failing push is recorded as a failed run, not raised; one the database committed although the
    answer to its COMMIT was lost is recorded succeeded. Raise PushError when a new run cannot start
    because the day is already under way, or when the database did not answer to record the outcome.
    """
    if run is None:
        run = start_run(day, trigger=trigger, requested_by=requested_by, include_closed=include_closed)
    else:
        run.mark_running()
    logger.info("Push of %s started (run %s, trigger %s).", day, run.pk, run.trigger)
    attempt = _Attempt()
    try:
        with heartbeat(run):
            _push_and_record(day, run, attempt)
    except BaseException as exc:
        if not isinstance(exc, Exception):
            # Stopped from outside (gunicorn's worker timeout raises SystemExit, Ctrl-C): the push
            # rolled back; say so now rather than when the run is found dead.
            _record_stop(run, exc)
            raise
        _record_outcome(run, exc, attempt.result)
        if run.status != PushRun.Status.SUCCEEDED:
            # One line in the log; the traceback is in the run's page and in the e-mail to ADMINS.
            logger.error(
                "Push of %s failed (run %s) after %.2fs: %s", day, run.pk, run.duration.total_seconds(), run.error
            )
            notify_failure(run)
            return run
        logger.warning(
            "Push of %s (run %s): the database committed it, but its answer was lost (%s: %s).",
            day,
            run.pk,
            type(exc).__name__,
            _first_line(exc),
        )
    logger.info(
        "Push of %s succeeded (run %s): %d created, %d check-outs filled, %d skipped%s in %.2fs.",
        day,
        run.pk,
        run.created,
        run.filled,
        run.skipped,
        f", {run.corrected} earlier records corrected" if run.corrected else "",
        run.duration.total_seconds(),
    )
    for label, counts in run.target_counts.items():
        if counts.closed:
            logger.info(
                "Push of %s: closed for %s (%s)%s.",
                day,
                label,
                counts.closed,
                ", pushed anyway" if run.include_closed else "",
            )
    refresh_run_statistics(run)
    return run


def run_undo(undone: PushRun, *, requested_by: models.Model | None = None, run: PushRun | None = None) -> PushRun:
    """Undo the push `undone` and record the attempt as a PushRun with trigger undo.

    `run` is the undo's own run, recorded by `start_undo` or `queue_undo`. Without it, a new run is
    recorded first and a refusal is found only under the day's lock: recorded as a failed run, not
    raised; the pages and the command start the run with `start_undo`, which refuses instead.

    A failing undo is recorded, not raised, and e-mailed to ADMINS as a failing push is (one the
    database committed although the answer was lost is recorded done); raise PushError when the day
    is already under way, or when the database did not answer to record the outcome.
    """
    if run is None:
        try:
            with transaction.atomic(using=router.db_for_write(PushRun)):
                run = PushRun.objects.create(
                    date=undone.date, trigger=PushRun.Trigger.UNDO, undoes=undone, requested_by=requested_by
                )
        except IntegrityError:
            # One queued or running run per day, the database says: a push or undo of the day is on.
            raise PushError(_undo_refusal(undone)) from None
    run.mark_running()
    logger.info("Undo of run %s (%s) started (run %s).", undone.pk, undone.date, run.pk)
    try:
        undo(undone, undo_run=run)
    except Exception as exc:
        # The undo records its outcome in its own transaction (mark_undone): read back whether it committed.
        _record_outcome(run, exc)
        if run.status != PushRun.Status.SUCCEEDED:
            logger.error("Undo of run %s failed (run %s): %s", undone.pk, run.pk, run.error)
            notify_failure(run)
            return run
        logger.warning(
            "Undo of run %s (run %s): the database committed it, but its answer was lost (%s: %s).",
            undone.pk,
            run.pk,
            type(exc).__name__,
            _first_line(exc),
        )
    counts = run.target_counts.values()
    logger.info(
        "Undo of run %s succeeded (run %s): %s.",
        undone.pk,
        run.pk,
        text.undo_summary(
            sum(count.deleted for count in counts),
            sum(count.cleared for count in counts),
            sum(count.kept for count in counts),
        ),
    )
    refresh_run_statistics(run)
    return run


def refresh_run_statistics(run: PushRun) -> None:
    """After a big push or undo, refresh the statistics of the ledger and the attendance it wrote.

    Right after a push of hundreds of thousands of records, stale statistics made the undo's dry run
    (its confirmation page) take minutes on PostgreSQL.
    """
    counts = run.target_counts
    rows = sum(c.created + c.filled + c.corrected + c.deleted + c.cleared for c in counts.values())
    touched = [PushedRecord]
    for label in counts:
        with contextlib.suppress(LookupError, ValueError):
            touched.append(apps.get_model(label))
    refresh_statistics(touched, rows)


def start_undo(undone: PushRun, *, requested_by: models.Model | None = None, queued: bool = False) -> PushRun:
    """Record an undo of `undone`, running (or `queued`); refuse it with PushError, recording nothing, when
    `undone` cannot be undone or is being undone.

    One live undo per run, as one live push per day: an undo's day is its run's day, so the database's
    one-queued-or-running-run-per-day constraint keeps a second one out while the first is on. The run is
    recorded first and `undone` checked after, in the same transaction: a second undo that reaches the
    database while the first commits waits for it there (PostgreSQL: the constraint's index; SQLite: the
    write lock), then finds `undone` undone and is refused, instead of becoming a run that fails.
    """
    status = PushRun.Status.QUEUED if queued else PushRun.Status.RUNNING
    for attempt in range(2):
        try:
            with transaction.atomic(using=router.db_for_write(PushRun)):
                run = PushRun.objects.create(
                    date=undone.date,
                    trigger=PushRun.Trigger.UNDO,
                    undoes=undone,
                    requested_by=requested_by,
                    status=status,
                    started_at=None if queued else timezone.now(),
                )
                # Read again, after the INSERT: what the caller read may predate another undo's commit.
                current = PushRun.objects.filter(pk=undone.pk).first()
                reason = text.run_pruned(undone.pk) if current is None else refusal(current)
                if reason:
                    raise PushError(reason)
                return run
        except IntegrityError:
            # A dead run of the day gives way; a live one is reported.
            if attempt or not mark_never_finishing_interrupted():
                break
    raise PushError(_undo_refusal(undone))


def _undo_refusal(undone: PushRun) -> str:
    """Say why an undo of `undone` cannot start now that the database refused a second live run of its day."""
    run = PushRun.objects.active().filter(date=undone.date).order_by("created_at").first()
    if run is not None:
        if run.undoes_id == undone.pk:
            return text.undo_under_way(undone, run)
        return text.undo_refused_day_busy(undone, run)
    # It finished meanwhile.
    undo_run = undone_by(undone)
    if undo_run is not None:
        return text.already_undone(undone, undo_run)
    return text.undo_was_refused(undone)


def queue_undo(undone: PushRun, *, requested_by: models.Model | None = None) -> PushRun:
    """Record a queued undo of `undone` and hand it to the django-q2 cluster once committed.

    Refuse (PushError) a run that cannot be undone, or whose day is being pushed or undone (see `start_undo`).
    """
    run = start_undo(undone, requested_by=requested_by, queued=True)

    def enqueue() -> None:
        if not _hand_to_worker(run, f"attendance_push undo run {undone.pk} run {run.pk}"):
            logger.error("Undo of run %s could not be queued (run %s): %s", undone.pk, run.pk, run.error)

    transaction.on_commit(enqueue, using=router.db_for_write(PushRun))
    return run


class _Attempt:
    """What a push returned, kept as soon as it returns: before its transaction commits."""

    result: PushResult | None = None


def _push_and_record(day: datetime.date, run: PushRun, attempt: _Attempt) -> None:
    """Push `day` and record the success in the push's own transaction where they share a database."""
    if not shares_database():
        # The push's transaction is opened here, so that its result is in hand before it commits:
        # if the answer to the COMMIT is lost, the ledger it wrote tells whether it committed.
        with contextlib.ExitStack() as stack:
            for alias in _attendance_aliases():
                stack.enter_context(transaction.atomic(using=alias))
            attempt.result = push(day, run_id=run.pk, include_closed=run.include_closed)
        run.mark_succeeded(attempt.result)
        return
    # A process killed after the COMMIT would otherwise leave a pushed day recorded as running,
    # and later as "interrupted, nothing was written"; and a COMMIT whose answer is lost leaves
    # the outcome in the database for _record_outcome to read back.
    with transaction.atomic(using=router.db_for_write(PushRun)):
        attempt.result = push(day, run_id=run.pk, include_closed=run.include_closed)
        run.mark_succeeded(attempt.result)


def _attendance_aliases() -> list[str]:
    return sorted({router.db_for_write(target.model) for target in conf.TARGETS})


# How long a failure waits for a database that stopped answering before it gives up recording it.
RECORD_ATTEMPTS = (0, 0.5, 1, 2)


def _record_outcome(run: PushRun, exc: BaseException, result: PushResult | None = None) -> None:
    """Record what `run` (a push or an undo that raised `exc`) left in the database, read back on a fresh connection.

    A push or an undo that committed although its answer was lost (the connection broke during the
    COMMIT) is recorded succeeded, with the counts it committed; only an attempt the database does
    not hold is recorded failed. `result` is what a push returned before its COMMIT, if it got that far.
    Raise PushError (one line) when the database does not answer.
    """
    for pause in RECORD_ATTEMPTS:
        time.sleep(pause)
        _fresh_connections()
        try:
            if result is not None and not shares_database() and _ledger_holds(run):
                # The history is on another database: the attendance's ledger rows of this run
                # were written in the push's transaction, so it committed.
                run.mark_succeeded(result)
            else:
                run.mark_failed(exc)
            return
        except DatabaseError as record_exc:
            unrecorded = record_exc
    what = f"Undo of run {run.undoes_id}" if run.trigger == PushRun.Trigger.UNDO else f"Push of {run.date:%Y-%m-%d}"
    raise PushError(
        f"{what} failed ({type(exc).__name__}: {_first_line(exc)}), and the database did not "
        f"answer to record it ({type(unrecorded).__name__}); run {run.pk} will show as interrupted once it does."
    ) from None


def _ledger_holds(run: PushRun) -> bool:
    """Return whether an attendance database holds ledger rows of `run`."""
    return any(PushedRecord.objects.using(alias).filter(run=run.pk).exists() for alias in _attendance_aliases())


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _record_stop(run: PushRun, exc: BaseException) -> None:
    reason = text.STOPPED if shares_database() else text.STOPPED_ELSEWHERE
    with contextlib.suppress(DatabaseError):
        PushRun.objects.filter(pk=run.pk, status=PushRun.Status.RUNNING).update(
            status=PushRun.Status.INTERRUPTED,
            finished_at=timezone.now(),
            error=f"{reason} ({type(exc).__name__})",
        )


def start_run(
    day: datetime.date, *, trigger: str, requested_by: models.Model | None = None, include_closed: bool = False
) -> PushRun:
    """Record a running PushRun for `day`; raise PushError when a push of the day is already under way."""
    for attempt in range(2):
        try:
            with transaction.atomic(using=router.db_for_write(PushRun)):
                now = timezone.now()
                return PushRun.objects.create(
                    date=day,
                    trigger=trigger,
                    requested_by=requested_by,
                    include_closed=include_closed,
                    status=PushRun.Status.RUNNING,
                    started_at=now,
                )
        except IntegrityError:
            # The database allows one queued or running run per day. A dead one gives way; a live
            # one is reported.
            if attempt or not mark_never_finishing_interrupted():
                break
    raise PushError(_already_under_way(day))


def _already_under_way(day: datetime.date) -> str:
    run = PushRun.objects.active().filter(date=day).order_by("created_at").first()
    if run is None:  # it finished meanwhile
        return text.was_under_way(day)
    return text.under_way(run)


def blocking_run(days: list[datetime.date]) -> PushRun | None:
    """Return a live queued or running push of one of `days` (one that will never finish does not count)."""
    live = PushRun.objects.active().filter(date__in=days).exclude(pk__in=never_finishing_ids())
    return live.order_by("date", "created_at").first()


def refuse_days_under_way(days: list[datetime.date]) -> None:
    """Raise PushError when one of `days` is queued or running; first mark runs that will never finish interrupted."""
    mark_never_finishing_interrupted()
    run = blocking_run(days)
    if run is not None:
        raise PushError(text.under_way(run))


def queue_push(
    day: datetime.date, *, trigger: str, requested_by: models.Model | None = None, include_closed: bool = False
) -> PushRun:
    """Record a queued PushRun for `day` and hand it to the django-q2 cluster once committed.

    Refuse (PushError) a future day, or a day whose push is already queued or running.
    """
    return queue_pushes([day], trigger=trigger, requested_by=requested_by, include_closed=include_closed)[0]


def queue_pushes(
    days: list[datetime.date],
    *,
    trigger: str,
    requested_by: models.Model | None = None,
    include_closed: bool = False,
) -> list[PushRun]:
    """Queue a push of each of `days`, all or none (see `queue_push`)."""
    for day in days:
        validate_day(day)
    try:
        with transaction.atomic(using=router.db_for_write(PushRun)):
            refuse_days_under_way(days)
            runs = [
                PushRun.objects.create(
                    date=day, trigger=trigger, requested_by=requested_by, include_closed=include_closed
                )
                for day in days
            ]
    except IntegrityError:
        # Another push of one of the days was recorded between the check and the INSERT (two
        # administrators confirming at once): the database keeps one per day.
        run = PushRun.objects.active().filter(date__in=days).order_by("date", "created_at").first()
        raise PushError(text.under_way(run) if run else _already_under_way(days[0])) from None

    def enqueue() -> None:
        for run in runs:
            if not _hand_to_worker(run, f"attendance_push {run.date:%Y-%m-%d} run {run.pk}"):
                logger.error("Push of %s could not be queued (run %s): %s", run.date, run.pk, run.error)

    # The worker must find the PushRun rows when it picks up the tasks.
    transaction.on_commit(enqueue, using=router.db_for_write(PushRun))
    return runs


def scheduled_push(intended: datetime.datetime, now: datetime.datetime | None = None) -> PushRun | None:
    """Push the day the schedule meant at `intended`; return the run, or None when there is nothing to do.

    A day already pushed since its push time (by catch-up or an admin) is not pushed again; a
    day older than the catch-up look-back is left for an admin to rerun.
    """
    now = now or timezone.now()
    day = intended.astimezone(conf.TIME_ZONE).date()
    lateness = now - intended
    if lateness > max(datetime.timedelta(days=conf.CATCH_UP_DAYS), LATE_AFTER):
        logger.warning(
            "Push of %s not run: it was due %s ago, beyond CATCH_UP_DAYS (%d); rerun it from the admin.",
            day,
            lateness,
            conf.CATCH_UP_DAYS,
        )
        return None
    if is_pushed(day):
        logger.info("Push of %s already done since its push time; nothing to do.", day)
        return None
    trigger = PushRun.Trigger.CATCH_UP if lateness > LATE_AFTER else PushRun.Trigger.SCHEDULE
    try:
        return run_push(day, trigger=trigger)
    except PushError as exc:
        logger.warning("Push of %s: %s", day, exc)
        return None


def catch_up(now: datetime.datetime | None = None) -> list[PushRun]:
    """Mark runs that will never finish interrupted, then push each missed day of the look-back window once."""
    now = now or timezone.now()
    interrupted = mark_never_finishing_interrupted(now)
    if interrupted:
        logger.warning("Marked %d push run(s) interrupted: they will never finish.", interrupted)
    pushed = []
    for day in missed_days(now):
        try:
            pushed.append(run_push(day, trigger=PushRun.Trigger.CATCH_UP))
        except PushError as exc:
            logger.warning("Catch-up of %s: %s", day, exc)
    return pushed


def missed_days(now: datetime.datetime) -> list[datetime.date]:
    """Return the days of the last CATCH_UP_DAYS whose push time has passed without a push, oldest first."""
    if not conf.CATCH_UP_DAYS:
        return []
    installed = installed_on()
    if installed is None:
        # A new installation does not invent attendance for the days before it was set up.
        return []
    local_today = now.astimezone(conf.TIME_ZONE).date()
    # A day closed for every target is handled: there is nothing to create, so nothing was missed.
    closed = closed_for_all(conf.TARGETS, local_today - datetime.timedelta(days=conf.CATCH_UP_DAYS), local_today)
    # A day the daily schedule has yet to fire for is its to push (when a worker returns, the
    # overdue schedule fires at once).
    scheduled = daily_next_run()
    days = []
    for back in range(conf.CATCH_UP_DAYS, -1, -1):
        day = local_today - datetime.timedelta(days=back)
        instant = push_instant(day)
        if day < installed or not now - datetime.timedelta(days=conf.CATCH_UP_DAYS) < instant <= now - LATE_AFTER:
            continue
        if scheduled is not None and scheduled <= instant:
            continue
        if day in closed:
            continue
        if is_pushed(day) or PushRun.objects.active().filter(date=day).exists():
            continue
        if PushRun.objects.filter(date=day, status=PushRun.Status.FAILED, started_at__gte=instant).exists():
            # A push of this day already failed since its push time and told ADMINS; retrying
            # every five minutes would only repeat the failure and the e-mail. An admin reruns it.
            continue
        days.append(day)
    return days


def installed_on() -> datetime.date | None:
    """Return the day (in the push zone) of the installation's first push run, or None before any."""
    first_run = PushRun.objects.aggregate(first=Min("created_at"))["first"]
    return first_run.astimezone(conf.TIME_ZONE).date() if first_run else None


def is_pushed(day: datetime.date) -> bool:
    """Return whether `day` is handled: a successful push or undo that started at or after its push time.

    An administrator who undid a push after the push time meant the day to stay as it is: neither
    the schedule nor catch-up pushes it again (an explicit push still does). An undo before the push
    time takes back a push that came early (today pushed in the morning by mistake): like that push,
    it does not stand for the evening's, and the schedule still pushes the day.

    A handled day is either pushed or undone (`undone_days`): the calendar and the health check tell
    the two apart; catch-up leaves both alone.
    """
    handled = PushRun.objects.filter(date=day, status=PushRun.Status.SUCCEEDED, started_at__gte=push_instant(day))
    return handled.exists()


def undone_days(first: datetime.date, last: datetime.date) -> dict[datetime.date, int]:
    """Return the days from `first` to `last` whose latest successful push was undone, each with its undo's id.

    A later successful push of a day makes it pushed again: the latest push is then one nobody undid.
    """
    latest_push = (
        PushRun.objects.filter(date=OuterRef("date"), status=PushRun.Status.SUCCEEDED)
        .exclude(trigger=PushRun.Trigger.UNDO)
        .order_by("-started_at", "-pk")
        .values("pk")[:1]
    )
    undos = PushRun.objects.filter(
        trigger=PushRun.Trigger.UNDO,
        status=PushRun.Status.SUCCEEDED,
        date__gte=first,
        date__lte=last,
        undoes=Subquery(latest_push),
    )
    return dict(undos.order_by("pk").values_list("date", "pk"))


def notify_failure(run: PushRun) -> None:
    """E-mail the site's ADMINS that `run` (a push or an undo) failed, with the day, the error and a link to it."""
    try:
        # No request tells which admin site this is: the setting does, as `admin_site.name` does on the pages.
        link = conf.SITE_URL + reverse(
            "admin:attendance_push_pushrun_change", args=[run.pk], current_app=conf.ADMIN_SITE
        )
    except NoReverseMatch:
        link = None
    subject, message = text.failure_mail(run, link)
    try:
        mail_admins(subject, message + run.traceback)
    except Exception:
        # A broken mail server must not hide the failure itself, which is recorded already.
        logger.exception("Could not e-mail ADMINS about the failed run %s (%s).", run.pk, run.date)


def _fresh_connections() -> None:
    """Close the connections to the runs' and the attendance's databases, so that the next query opens a new one.

    After an error the old one may be broken, or may have lost the answer to a COMMIT: what the
    database holds is read on a new one. Inside a caller's transaction there is nothing to close.
    """
    for alias in {router.db_for_write(PushRun), *_attendance_aliases()}:
        connection = connections[alias]
        if not connection.in_atomic_block:
            connection.close()


def _hand_to_worker(run: PushRun, task_name: str) -> bool:
    """Give queued `run` to the django-q2 broker and keep its task id; if the broker refuses, mark the run
    failed, e-mail ADMINS and return False."""
    from django_q.tasks import async_task

    try:
        # A savepoint, so that a broker failure does not poison the caller's transaction.
        with transaction.atomic(using=router.db_for_write(PushRun)):
            run.task_id = async_task("attendance_push.tasks.execute_run", run.pk, task_name=task_name)
    except Exception as exc:
        # The broker is down: say so on the run rather than leave it queued for ever.
        run.mark_failed(exc)
        notify_failure(run)
        return False
    run.save(update_fields=["task_id"])
    return True
