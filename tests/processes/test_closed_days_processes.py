"""Closed days on a real qcluster: a closure added shortly before the push time stops that evening's records."""

from __future__ import annotations

import datetime
import signal

import pytest
from django.test.utils import override_settings
from django.utils import timezone
from django_q.models import Schedule

from attendance_push.conf import SCHEDULE_NAME
from attendance_push.models import Closure, PushRun
from attendance_push.schedule import ensure_schedule
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.config import push_settings
from tests.support.demo import attendance
from tests.support.processes import patience, process_env, push_time_ahead, start, stop, wait_for

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


@pytest.mark.long
def test_a_closure_added_before_the_push_time_stops_that_evenings_records(
    superuser, make_students, make_employees, tmp_path, noon_zone
):
    students = make_students(4)
    make_employees(2)
    # The push time: the next whole minute at least a minute away, in a push zone where it is about
    # noon (the worker runs on the wall clock, so the instant is pinned instead; noon_zone).
    now, instant = push_time_ahead(noon_zone)
    day = instant.date()
    came_in = attendance(students[0], day, status="Present", time_in=datetime.time(9, 5))
    push_time = f"{instant:%H:%M}"
    with override_settings(ATTENDANCE_PUSH=push_settings(TIME=push_time)):
        ensure_schedule()
    assert Schedule.objects.get(name=SCHEDULE_NAME).next_run == instant

    log = tmp_path / "qcluster.log"
    worker = start(
        "qcluster",
        env=process_env(ATTENDANCE_PUSH_TIME=push_time, ATTENDANCE_PUSH_TEST_GUARD_CYCLE="30"),
        log=log,
    )
    try:
        # The school closes after the evening's push was planned and before it runs (the "20:00" closure).
        Closure.objects.create(name="Bandh (general strike)", first_day=day, last_day=day, created_by=superuser)
        assert timezone.now() < instant, "the closure must exist before the push time"
        run = wait_for(
            lambda: PushRun.objects.filter(date=day, status__in=["succeeded", "failed"]).first(),
            # Until the push time, then the worker's start-up, the scheduler's pass that fires it and the push.
            timeout=(instant - now).total_seconds() + patience(starts=2, scheduler_passes=2),
            what="the scheduled push of the closed day",
            log=log,
        )
    finally:
        stop(worker, signal.SIGINT)

    assert (run.status, run.trigger) == ("succeeded", "schedule"), run.error
    assert (run.created, run.filled) == (0, 1)
    assert run.counts["school.StudentAttendance"]["closed"] == "Bandh (general strike)"
    assert run.counts["school.EmployeeAttendance"]["closed"] == "Bandh (general strike)"
    # No false "Present": only the record someone made, its check-out filled.
    assert list(StudentAttendance.objects.filter(date=day).values_list("pk", "time_out")) == [
        (came_in.pk, datetime.time(17, 0))
    ]
    assert not EmployeeAttendance.objects.filter(date=day).exists()
