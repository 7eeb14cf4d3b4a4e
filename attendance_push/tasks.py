"""django-q2 task functions: thin wrappers around the service."""

from __future__ import annotations

import datetime

from .conf import conf
from .exceptions import PushError
from .models import PushRun
from .service import run_push, today


class PushFailed(Exception):
    """Raised so django-q2 records the task as failed too."""


def _raise_if_failed(run: PushRun) -> int:
    if run.status == PushRun.Status.FAILED:
        raise PushFailed(f"Push of {run.date} failed (run {run.pk}): {run.error}")
    return run.pk


def scheduled_push(intended_date: str | None = None) -> int:
    """Push the day the schedule meant, even when the task starts late; return the run's id."""
    # The planned instant, not the wall clock: a push planned for 23:59 that starts at 00:01
    # still pushes the day it was planned for.
    day = datetime.datetime.fromisoformat(intended_date).astimezone(conf.TIME_ZONE).date() if intended_date else today()
    return _raise_if_failed(run_push(day, trigger=PushRun.Trigger.SCHEDULE))


def execute_run(run_id: int) -> int:
    """Run a queued PushRun; return its id."""
    run = PushRun.objects.filter(pk=run_id, status=PushRun.Status.QUEUED).first()
    if run is None:
        raise PushError(f"PushRun {run_id} does not exist or is no longer queued.")
    return _raise_if_failed(run_push(run.date, trigger=run.trigger, run=run))
