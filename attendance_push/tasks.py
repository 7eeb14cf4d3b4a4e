"""django-q2 task functions: thin wrappers around `runs`."""

from __future__ import annotations

import datetime

from django.utils import timezone

from . import runs
from .days import today
from .exceptions import PushError
from .ledger.prune import prune
from .models import PushRun
from .schedule import drop_stale_test_schedule, lease_expired, remove_test_schedule


class PushFailed(Exception):
    """Raised so django-q2 records the task as failed too."""


def _raise_if_failed(run: PushRun | None) -> int | None:
    if run is not None and run.status == PushRun.Status.FAILED:
        raise PushFailed(f"Push of {run.date} failed (run {run.pk}): {run.error}")
    return run.pk if run is not None else None


def scheduled_push(intended_date: str) -> int | None:
    """Push the day the daily schedule planned (django-q2 passes the planned instant); return the run's id."""
    # The planned instant, not the wall clock: a push planned for 21:00 that starts after midnight
    # still pushes the day it was planned for.
    return _raise_if_failed(runs.scheduled_push(datetime.datetime.fromisoformat(intended_date)))


def catch_up() -> list[int]:
    """Drop a test schedule whose command died, mark runs that will never finish interrupted and
    push missed days; return the new runs' ids."""
    if drop_stale_test_schedule():
        runs.logger.warning("Removed the hourly test schedule: the attendance_scheduler --test that held it stopped.")
    return [run.pk for run in runs.catch_up()]


def push_today(lease_until: str | None = None) -> int | None:
    """Push today (the hourly schedule of `attendance_scheduler --test`) while its command holds the lease."""
    if lease_expired(lease_until):
        # The command that runs test mode was killed: its hourly push must not outlive it.
        remove_test_schedule()
        runs.logger.warning("Hourly test push not run: its attendance_scheduler --test stopped; schedule removed.")
        return None
    try:
        run = runs.run_push(today(), trigger=PushRun.Trigger.SCHEDULE)
    except PushError as exc:
        runs.logger.warning("Hourly test push: %s", exc)
        return None
    return _raise_if_failed(run)


def execute_run(run_id: int) -> int | None:
    """Run a queued PushRun; return its id."""
    # Claimed in one UPDATE: a task delivered twice runs the push once.
    claimed = PushRun.objects.filter(pk=run_id, status=PushRun.Status.QUEUED).update(
        status=PushRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        raise PushError(f"PushRun {run_id} does not exist or is no longer queued.")
    run = PushRun.objects.get(pk=run_id)
    if run.trigger == PushRun.Trigger.UNDO:
        if run.undoes is None:
            run.mark_failed(PushError(f"The run that run {run.pk} was to undo no longer exists."))
            runs.notify_failure(run)
            return _raise_if_failed(run)
        return _raise_if_failed(runs.run_undo(run.undoes, run=run))
    return _raise_if_failed(runs.run_push(run.date, trigger=run.trigger, run=run))


def prune_history() -> dict[str, int]:
    """Prune the ledger and the run history by KEEP_LEDGER_DAYS and KEEP_RUNS_DAYS; return the counts."""
    result = prune()
    return {"ledger_rows": result.ledger_rows, "ledgers": result.ledgers, "runs": result.runs}
