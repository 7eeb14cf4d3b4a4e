"""The django-q2 task functions and queueing a push."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from attendance_push.exceptions import PushError
from attendance_push.models import PushRun
from attendance_push.runs import queue_push
from attendance_push.tasks import PushFailed, catch_up, execute_run, push_today, scheduled_push
from school.models import StudentAttendance
from tests.support.demo import DAY, schedule_next_run

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

# 21:05 on the 20th in Kathmandu: the 21:00 push of the 20th, five minutes late.
ON_TIME = datetime.datetime(2026, 11, 20, 15, 20, tzinfo=datetime.UTC)
# 00:30 on the 21st in Kathmandu: the 21:00 push of the 20th, three and a half hours late.
LATE = datetime.datetime(2026, 11, 20, 18, 45, tzinfo=datetime.UTC)
INTENDED = "2026-11-20T15:15:00+00:00"


def test_the_scheduled_push_pushes_the_planned_day(superuser, make_students):
    make_students(2)
    with time_machine.travel(ON_TIME, tick=False):
        run_id = scheduled_push(intended_date=INTENDED)
    run = PushRun.objects.get(pk=run_id)
    assert (run.date, run.trigger, run.status, run.created) == (DAY, "schedule", "succeeded", 2)
    assert StudentAttendance.objects.filter(date=DAY).count() == 2


def test_a_late_scheduled_push_pushes_the_planned_day_as_catch_up(superuser, make_students):
    make_students(2)
    with time_machine.travel(LATE, tick=False):
        run_id = scheduled_push(intended_date=INTENDED)
    run = PushRun.objects.get(pk=run_id)
    # After midnight, "today" is the 21st; the planned day is still the 20th.
    assert (run.date, run.trigger, run.status) == (DAY, "catch-up", "succeeded")


def test_a_failed_scheduled_push_fails_the_task_too(make_students):
    make_students(1)
    with time_machine.travel(ON_TIME, tick=False), pytest.raises(PushFailed, match="createsuperuser"):
        scheduled_push(intended_date=INTENDED)
    run = PushRun.objects.get()
    assert (run.status, run.trigger) == ("failed", "schedule")


def test_the_test_mode_task_pushes_today(superuser, make_students):
    make_students(1)
    with time_machine.travel(LATE, tick=False):
        run = PushRun.objects.get(pk=push_today(lease_until=(LATE + datetime.timedelta(minutes=1)).isoformat()))
    assert (run.date, run.trigger, run.status) == (datetime.date(2026, 11, 21), "schedule", "succeeded")


def test_the_catch_up_task_returns_the_runs_it_made(superuser, make_students):
    make_students(1)
    with time_machine.travel(LATE - datetime.timedelta(days=1), tick=False):
        scheduled_push(intended_date="2026-11-19T15:15:00+00:00")
    schedule_next_run(LATE)  # the daily schedule has moved on past the 20th
    with time_machine.travel(LATE, tick=False):
        made = catch_up()
    assert [PushRun.objects.get(pk=pk).date for pk in made] == [DAY]


def test_queue_push_records_a_queued_run_and_enqueues_it_on_commit(
    superuser, make_students, django_capture_on_commit_callbacks
):
    make_students(1)
    with time_machine.travel(LATE, tick=False), django_capture_on_commit_callbacks(execute=True):
        run = queue_push(DAY, trigger=PushRun.Trigger.ADMIN, requested_by=superuser)
        # Nothing reaches the broker before the PushRun row is committed.
        assert not OrmQ.objects.exists()
    run.refresh_from_db()
    assert (run.status, run.trigger, run.requested_by) == ("queued", "admin", superuser)
    task = SignedPackage.loads(OrmQ.objects.get().payload)
    assert run.task_id == task["id"]
    assert (task["func"], task["args"]) == ("attendance_push.tasks.execute_run", (run.pk,))

    assert execute_run(run.pk) == run.pk
    run.refresh_from_db()
    assert (run.status, run.created) == ("succeeded", 1)
    assert run.started_at is not None


def test_queue_push_refuses_a_future_day(superuser):
    with time_machine.travel(LATE, tick=False), pytest.raises(PushError, match="in the future"):
        queue_push(datetime.date(2026, 11, 22), trigger=PushRun.Trigger.ADMIN)
    assert not PushRun.objects.exists()


def test_a_run_that_is_no_longer_queued_is_not_run_again(superuser):
    run = PushRun.objects.create(date=DAY, trigger=PushRun.Trigger.ADMIN, status=PushRun.Status.SUCCEEDED)
    with pytest.raises(PushError, match="no longer queued"):
        execute_run(run.pk)
    with pytest.raises(PushError, match="does not exist"):
        execute_run(run.pk + 1000)
