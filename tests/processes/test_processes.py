"""The real processes: a qcluster worker, the attendance_scheduler command and push_attendance."""

from __future__ import annotations

import signal

import pytest
from django_q.models import Schedule

from attendance_push.conf import SCHEDULE_NAME, TEST_SCHEDULE_NAME
from attendance_push.days import today
from attendance_push.models import PushRun
from attendance_push.runs import queue_push
from school.models import StudentAttendance
from tests.support.processes import manage, patience, process_env, start, stop, wait_for

# The workers run on the wall clock: the tests push in a zone where it is about noon, so neither
# midnight nor the push time falls inside a test, whatever the hour (noon_zone, tests/processes/conftest.py).
pytestmark = [
    pytest.mark.process,
    pytest.mark.clock,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("noon_zone"),
]


def test_a_queued_push_reaches_succeeded_on_a_real_qcluster(superuser, make_students, tmp_path):
    make_students(5)
    run = queue_push(today(), trigger=PushRun.Trigger.ADMIN, requested_by=superuser)
    assert run.task_id, "the task is handed to the broker once the PushRun is committed"
    assert PushRun.objects.get(pk=run.pk).status == "queued"

    log = tmp_path / "qcluster.log"
    worker = start("qcluster", log=log)
    try:
        done = wait_for(
            lambda: PushRun.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).first(),
            # The cluster and its workers start (the ORM broker is polled at once); 5 people are no work.
            timeout=patience(starts=2),
            what="the queued push to finish",
            log=log,
        )
    finally:
        stop(worker)
    assert done.status == "succeeded", done.error
    assert done.created == 5
    assert StudentAttendance.objects.filter(date=today()).count() == 5


def test_attendance_scheduler_registers_the_schedule_and_test_mode_pushes(superuser, make_students, tmp_path):
    make_students(3)
    Schedule.objects.all().delete()
    log = tmp_path / "scheduler.log"
    # A 30 s guard cycle makes the cluster's first scheduler pass happen at start-up.
    scheduler = start("attendance_scheduler", "--test", env=process_env(ATTENDANCE_PUSH_TEST_GUARD_CYCLE="30"), log=log)
    try:
        run = wait_for(
            lambda: PushRun.objects.filter(trigger="schedule", status__in=["succeeded", "failed"]).first(),
            # The cluster starts, its scheduler passes once and hands the push to a worker.
            timeout=patience(starts=2, scheduler_passes=1),
            what="the hourly test schedule to push",
            log=log,
        )
        assert Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
    finally:
        code = stop(scheduler, signal.SIGINT)
    assert run.status == "succeeded", run.error
    assert (run.date, run.created) == (today(), 3)
    output = log.read_text()
    assert "Schedule attendance_push.daily: next push" in output
    assert "Test mode:" in output
    assert code == 0, output[-2000:]
    # Test mode ends with the command; the daily schedule stays.
    assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1


def test_push_attendance_exits_non_zero_with_one_clear_line(make_students):
    make_students(1)
    result = manage("push_attendance")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: No active superuser to record as the creator of pushed records. In the admin, add one "
        "under Users › Add user and tick “Superuser status” (on the server: python manage.py createsuperuser)."
    ]
    assert not PushRun.objects.exists()


def test_push_attendance_succeeds_in_its_own_process(superuser, make_students):
    make_students(2)
    result = manage("push_attendance", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "school.StudentAttendance: 2 created" in result.stdout
    result = manage("push_attendance", "-v", "0")
    assert result.returncode == 0, result.stderr
    assert StudentAttendance.objects.count() == 2


def test_the_worker_refuses_to_start_on_a_bad_configuration(tmp_path):
    # tests.settings reads no ATTENDANCE_PUSH override from the environment, so use the project's
    # settings with a time zone that does not exist.
    env = process_env(DJANGO_SETTINGS_MODULE="config.settings", ATTENDANCE_PUSH_TIME_ZONE="Mars/Olympus", DEBUG="1")
    result = manage("qcluster", env=env, timeout=patience(starts=2))
    assert result.returncode != 0
    assert "attendance_push.E003" in result.stderr


def test_the_status_command_sees_a_running_worker(tmp_path):
    assert "Workers: none running" in manage("attendance_push_status").stdout
    log = tmp_path / "qcluster.log"
    worker = start("qcluster", log=log)

    def report_with_worker() -> str | None:
        out = manage("attendance_push_status").stdout
        return out if "cluster(s) running" in out else None

    try:
        report = wait_for(
            report_with_worker,
            # The cluster starts and reports its stats; each poll is a status command's start-up.
            timeout=patience(starts=4),
            what="the status command to see the worker",
            log=log,
        )
    finally:
        stop(worker)
    assert "Workers: 1 cluster(s) running on" in report
