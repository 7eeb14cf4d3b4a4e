"""Real workers under real faults: killed mid-push, stopped by a dyno restart, a failing push, two
clusters across the push time."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
import time_machine
from django.db import connection
from django_q.models import Task

from attendance_push.days import today
from attendance_push.models import PushRun
from attendance_push.runs import catch_up, queue_push
from attendance_push.schedule import push_instant
from school.models import StudentAttendance
from tests.support.processes import (
    ROOT,
    SCHEDULER_PERIOD,
    patience,
    process_env,
    push_time_ahead,
    start,
    stop,
    wait_for,
)
from tests.support.races import push_is_writing
from tests.support.servers import postgres_database, query, redis_url

# The workers run on the wall clock: every test here pushes in a zone where it is about noon, so
# neither midnight nor the push time falls inside a test, whatever the hour (noon_zone, tests/processes/conftest.py).
pytestmark = [
    pytest.mark.process,
    pytest.mark.clock,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("noon_zone"),
]


def add_students(count: int) -> None:
    """Insert `count` active students with one SQL statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO school_student (name, is_active) "
                "SELECT 'Student ' || n, true FROM generate_series(1, %s) n",
                [count],
            )
        else:
            cursor.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                "INSERT INTO school_student (name, is_active) SELECT 'Student ' || i, 1 FROM n",
                [count],
            )


def installed_before(day: datetime.date) -> None:
    """Record a successful push of the day before `day`, as an installation in service has."""
    earlier = day - datetime.timedelta(days=1)
    with time_machine.travel(push_instant(earlier), tick=False):
        PushRun.objects.create(date=earlier, trigger="schedule", status="succeeded", started_at=push_instant(earlier))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM-dyno-restart"])
def test_a_worker_stopped_mid_push_writes_nothing_and_catch_up_completes_the_day(superuser, tmp_path, sig):
    # Enough people that the push's uncommitted records outgrow SQLite's page cache (2 MB) and reach
    # the database file: only the journal can take them back. Where the signal lands is fixed by
    # holding the push once it has written them (tests/holding.py), not by a push long enough.
    people = 100_000
    inserting = time.monotonic()
    add_students(people)
    inserting = time.monotonic() - inserting
    day = today() - datetime.timedelta(days=1)
    installed_before(day)
    run = queue_push(day, trigger=PushRun.Trigger.ADMIN, requested_by=superuser)

    log = tmp_path / "qcluster.log"
    hold = tmp_path / "hold"
    hold.mkdir()
    worker = start("qcluster", env=process_env(ATTENDANCE_PUSH_TEST_HOLD=str(hold)), log=log)
    try:
        wait_for(
            (hold / "held").exists,
            # The cluster and its workers start, a worker claims the task, and the push writes the
            # people's records: a record and a ledger row each, checked against the unique index,
            # which took 5 to 8 times as long as inserting the students on both databases here.
            timeout=patience(starts=2, work=10 * inserting),
            what="the push to write the students' records and hold",
            log=log,
        )
        assert push_is_writing(day), "the push's transaction is open when the signal lands"
        # A dyno restart signals every process of the dyno, not only the cluster's parent, and
        # SIGKILLs what is left 30 s later. (django-q2's parent can hang on the signal when its
        # sentinel died first; the SIGKILL ends it.)
        os.killpg(worker.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=patience())  # a SIGKILL leaves nothing to wait for but the kernel
    finally:
        stop(worker)

    assert not StudentAttendance.objects.filter(date=day).exists()
    assert PushRun.objects.get(pk=run.pk).status == "running"
    if connection.vendor == "postgresql":
        # The killed worker's session, idle in its transaction, ends with its lock when the server
        # sees the connection close: until then the push looks alive; the lock says when it died.
        wait_for(lambda: not push_is_writing(day), timeout=patience(), what="the dead push's session to end", log=log)

    # Once the run is known dead it will never finish: catch-up takes over. At
    # about noon in the push zone, yesterday is the only day whose push time has passed unpushed.
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=11)):
        (redo,) = catch_up()
    assert PushRun.objects.get(pk=run.pk).status == "interrupted"
    assert (redo.date, redo.trigger, redo.status, redo.created) == (day, "catch-up", "succeeded", people)
    assert StudentAttendance.objects.filter(date=day).count() == people


def test_a_failing_push_fails_once_and_emails_the_admins(make_students, tmp_path):
    make_students(3)  # and no superuser: the push fails
    day = today() - datetime.timedelta(days=1)
    run = queue_push(day, trigger=PushRun.Trigger.ADMIN)
    outbox = tmp_path / "mail"
    retry = 5
    env = process_env(
        # A short retry window: a redelivery, if there were one, would happen within the test.
        Q_TIMEOUT="3",
        Q_RETRY=str(retry),
        ADMINS="Head:head@school.example",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    log = tmp_path / "qcluster.log"
    worker = start("qcluster", env=env, log=log)
    try:
        failed = patience(starts=2)  # the cluster and its workers start; the push fails at once
        wait_for(lambda: PushRun.objects.filter(pk=run.pk, status="failed").exists(), timeout=failed, what="failure")
        time.sleep(2 * retry + 2)  # two retry windows: a redelivery would have happened by now
    finally:
        stop(worker)

    assert list(PushRun.objects.values_list("status", flat=True)) == ["failed"]
    (task,) = Task.objects.filter(func="attendance_push.tasks.execute_run")
    assert task.success is False and task.attempt_count == 1
    (mail,) = list(outbox.iterdir())
    text = mail.read_text()
    assert f"Attendance push of {day:%Y-%m-%d} failed" in text
    assert "To: head@school.example" in text
    assert "createsuperuser" in text


@pytest.mark.long
def test_two_clusters_on_redis_and_postgresql_push_the_day_once(tmp_path, noon_zone):
    broker = redis_url()
    with postgres_database("attendance_push_clusters") as url:
        # The push time: the next whole minute at least a minute away, in the push zone.
        now, instant = push_time_ahead(noon_zone)
        day = instant.date()
        env = process_env(
            DATABASE_URL=url,
            REDIS_URL=broker,
            ATTENDANCE_PUSH_TIME=f"{instant:%H:%M}",
            ATTENDANCE_PUSH_TEST_GUARD_CYCLE="30",  # a scheduler pass at start-up and every 30 s
        )
        for command in (
            ["migrate", "--noinput", "-v", "0"],
            ["seed_demo", "--students", "60", "--employees", "6", "--days", "0", "--superuser", "-v", "0"],
        ):
            done = subprocess.run(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stderr
        active = query(
            url,
            "SELECT (SELECT count(*) FROM school_student WHERE is_active) + "
            "(SELECT count(*) FROM school_employee WHERE is_active)",
        )[0][0]
        next_run = query(url, "SELECT next_run FROM django_q_schedule WHERE name = 'attendance_push.daily'")[0][0]
        assert next_run == instant

        clusters = [start("qcluster", env=env, log=tmp_path / f"cluster{n}.log") for n in (1, 2)]
        try:

            def pushed():
                return query(
                    url, "SELECT count(*) FROM attendance_push_pushrun WHERE date = %s AND status = 'succeeded'", (day,)
                )[0][0]

            wait_for(
                pushed,
                # Until the push time, then the clusters' next scheduler pass and the push itself.
                timeout=(instant - now).total_seconds() + patience(starts=2, scheduler_passes=1),
                what="the scheduled push",
                log=tmp_path / "cluster1.log",
            )
            time.sleep(SCHEDULER_PERIOD + 5)  # one more scheduler pass of each cluster
        finally:
            for cluster in clusters:
                stop(cluster, signal.SIGTERM)

        runs = query(url, "SELECT trigger, status FROM attendance_push_pushrun WHERE date = %s", (day,))
        assert runs == [("schedule", "succeeded")]
        per_person = query(
            url,
            "SELECT count(*) FROM school_studentattendance WHERE date = %s GROUP BY student_id "
            "UNION ALL SELECT count(*) FROM school_employeeattendance WHERE date = %s GROUP BY employee_id",
            (day, day),
        )
        assert {count for (count,) in per_person} == {1}
        assert len(per_person) >= active
