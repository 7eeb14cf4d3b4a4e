"""Runs a test starts from: recorded straight into the history, or pushed for real."""

from __future__ import annotations

import datetime

from attendance_push.models import PushRun
from attendance_push.runs import run_push
from attendance_push.schedule import push_instant
from tests.support.demo import DAY


def pushed(day: datetime.date) -> PushRun:
    """Record the schedule's successful push of `day`, 20 seconds after its push time, of 3 records."""
    start = push_instant(day) + datetime.timedelta(seconds=20)
    return PushRun.objects.create(
        date=day, trigger="schedule", status="succeeded", started_at=start, finished_at=start, created=3
    )


def failed_run(day: datetime.date, *, trigger: str = "schedule", **fields) -> PushRun:
    """Record a failed run of `day` (the schedule's unless `trigger` says otherwise)."""
    return PushRun.objects.create(date=day, trigger=trigger, status="failed", **fields)


def pushed_run(day: datetime.date = DAY, **options) -> PushRun:
    """Push `day` for real, as the command does, and return its run, which must have succeeded."""
    run = run_push(day, trigger=PushRun.Trigger.COMMAND, **options)
    assert run.status == PushRun.Status.SUCCEEDED, run.error
    return run
