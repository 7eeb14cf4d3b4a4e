"""Push attempts: catch-up of missed days, interrupted runs, duplicates, failures and their e-mail."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django_q.models import Schedule

from attendance_push.conf import SCHEDULE_NAME
from attendance_push.exceptions import PushError
from attendance_push.locks import LOCK_NAMESPACE
from attendance_push.models import PushRun
from attendance_push.runs import (
    catch_up,
    is_pushed,
    missed_days,
    queue_push,
    queue_undo,
    run_push,
    scheduled_push,
)
from attendance_push.schedule import push_instant
from attendance_push.tasks import PushFailed, execute_run
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.config import push_settings
from tests.support.demo import DAY, KTM, schedule_next_run
from tests.support.races import holding_day_lock
from tests.support.servers import backend_waiting_on_a_lock

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

UTC = datetime.UTC


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """Return the instant of `hour:minute` on November `day`, 2026, in Kathmandu."""
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=KTM)


def nov(day: int) -> datetime.date:
    return datetime.date(2026, 11, day)


def pushed(day: datetime.date, started: datetime.datetime | None = None) -> PushRun:
    """Record a successful push of `day` (by default at its push time)."""
    started = started or push_instant(day)
    with time_machine.travel(started, tick=False):
        return PushRun.objects.create(
            date=day, trigger="schedule", status="succeeded", started_at=started, finished_at=started
        )


@pytest.fixture(autouse=True)
def three_students_and_an_employee(superuser, make_students, make_employees):
    make_students(3)
    make_employees(1)


def test_a_worker_started_at_23_00_pushes_today():
    pushed(nov(19))
    # The worker was down at 21:00: the daily schedule is still due for the 20th.
    schedule_next_run(at(20, 8))
    assert Schedule.objects.get(name=SCHEDULE_NAME).next_run == push_instant(nov(20))
    with time_machine.travel(at(20, 23), tick=False):
        # The check leaves the day to the overdue schedule, which fires at the first scheduler pass…
        assert missed_days(at(20, 23)) == []
        run = scheduled_push(push_instant(nov(20)))
    # …and pushes it two hours late.
    assert (run.date, run.trigger, run.status, run.created) == (nov(20), "catch-up", "succeeded", 4)


def test_a_worker_started_the_next_morning_pushes_yesterday():
    pushed(nov(19))
    schedule_next_run(at(21, 8))  # the schedule has moved on past the 20th
    with time_machine.travel(at(21, 8), tick=False):
        (run,) = catch_up()
    assert (run.date, run.trigger, run.status) == (nov(20), "catch-up", "succeeded")
    assert StudentAttendance.objects.filter(date=nov(20)).count() == 3


def test_several_missed_days_are_each_pushed_once_within_the_look_back():
    pushed(nov(14))
    schedule_next_run(at(21, 8))
    with time_machine.travel(at(21, 8), tick=False):
        first = catch_up()
        again = catch_up()
    assert [run.date for run in first] == [nov(18), nov(19), nov(20)]
    assert {run.trigger for run in first} == {"catch-up"}
    assert again == []
    # Older days stay missed for an admin to rerun.
    assert not StudentAttendance.objects.filter(date__in=[nov(15), nov(16), nov(17)]).exists()
    assert PushRun.objects.filter(date=nov(19)).count() == 1


def test_catch_up_days_sets_the_look_back(settings):
    settings.ATTENDANCE_PUSH = push_settings(CATCH_UP_DAYS=1)
    pushed(nov(14))
    schedule_next_run(at(21, 8))
    assert missed_days(at(21, 8)) == [nov(20)]
    settings.ATTENDANCE_PUSH = push_settings(CATCH_UP_DAYS=0)
    assert missed_days(at(21, 8)) == []


def test_a_new_installation_does_not_invent_past_attendance():
    schedule_next_run(at(21, 8))
    assert missed_days(at(21, 8)) == []
    # Installed on the 19th (its first push): the 18th is before it, the 19th and 20th are not.
    pushed(nov(19), started=at(19, 14))
    assert missed_days(at(21, 8)) == [nov(19), nov(20)]


def test_a_push_before_the_push_time_does_not_count_as_the_days_push():
    pushed(nov(19))
    early = pushed(nov(20), started=at(20, 14))
    schedule_next_run(at(21, 8))
    assert not is_pushed(nov(20))
    assert missed_days(at(21, 8)) == [nov(20)]
    early.started_at = at(20, 21, 1)
    early.save()
    assert is_pushed(nov(20))
    assert missed_days(at(21, 8)) == []


def test_a_day_being_pushed_is_left_to_that_push():
    pushed(nov(19))
    PushRun.objects.create(date=nov(20), trigger="admin")  # queued
    schedule_next_run(at(21, 8))
    assert missed_days(at(21, 8)) == []


def test_a_dead_running_run_is_marked_interrupted_and_its_day_pushed(settings):
    pushed(nov(19))
    schedule_next_run(at(21, 8))
    dead = PushRun.objects.create(date=nov(20), trigger="schedule", status="running", started_at=at(20, 21))
    # Started long ago, but alive: it holds its day's lock (PostgreSQL) or wrote a heartbeat just now.
    alive = PushRun.objects.create(
        date=nov(14),
        trigger="command",
        status="running",
        started_at=at(20, 8),
        heartbeat_at=at(21, 8) - datetime.timedelta(seconds=10),
    )

    with time_machine.travel(at(21, 8), tick=False), holding_day_lock(nov(14)):
        (run,) = catch_up()

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "interrupted" and dead.error.startswith("Interrupted:") and dead.finished_at
    assert alive.status == "running"
    assert (run.date, run.status) == (nov(20), "succeeded")


def test_the_schedule_does_not_push_a_day_already_pushed_since_its_push_time():
    pushed(nov(20), started=at(20, 21, 10))
    with time_machine.travel(at(20, 21, 20), tick=False):
        assert scheduled_push(push_instant(nov(20))) is None
    assert PushRun.objects.count() == 1


def test_the_schedule_leaves_a_day_older_than_the_look_back_to_an_admin():
    with time_machine.travel(at(25, 8), tick=False):
        assert scheduled_push(push_instant(nov(20))) is None
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_a_second_queued_push_of_a_day_is_refused_naming_the_first(superuser):
    with time_machine.travel(at(20, 12), tick=False):
        first = queue_push(nov(20), trigger="admin", requested_by=superuser)
        refusal = rf"already under way \(queued, run {first.pk}, requested 2026-11-20 12:00 Asia/Kathmandu\)"
        with pytest.raises(PushError, match=refusal):
            queue_push(nov(20), trigger="admin")
        # Another day is fine.
        queue_push(nov(19), trigger="admin")
    assert PushRun.objects.filter(date=nov(20)).count() == 1


def test_a_dead_running_run_does_not_block_a_new_push(superuser):
    stale = PushRun.objects.create(date=nov(20), trigger="schedule", status="running", started_at=at(20, 9))
    with time_machine.travel(at(20, 12), tick=False):
        queue_push(nov(20), trigger="admin")
    stale.refresh_from_db()
    assert stale.status == "interrupted"


def test_a_failed_push_emails_the_admins_with_the_day_the_error_and_a_link(settings):
    settings.ADMINS = [("Head", "head@school.example")]
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost", SITE_URL="https://school.example/")

    run = run_push(DAY, trigger="schedule")

    assert run.status == "failed"
    (message,) = mail.outbox
    assert message.to == ["head@school.example"]
    assert message.subject.endswith("Attendance push of 2026-11-20 failed")
    assert "Error: ATTENDANCE_PUSH['ACTOR'] is 'ghost'" in message.body
    assert f"Run: https://school.example/admin/attendance_push/pushrun/{run.pk}/change/" in message.body
    assert "push_attendance --date 2026-11-20" in message.body


def test_a_successful_push_sends_no_mail(settings):
    settings.ADMINS = [("Head", "head@school.example")]
    assert run_push(DAY, trigger="schedule").status == "succeeded"
    assert mail.outbox == []


def test_a_broken_mail_server_does_not_hide_the_failure(settings):
    settings.ADMINS = [("Head", "head@school.example")]
    settings.EMAIL_BACKEND = "tests.engine.test_runs.BrokenMailBackend"
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost")
    run = run_push(DAY, trigger="schedule")
    run.refresh_from_db()
    assert run.status == "failed"


class BrokenMailBackend:
    """A mail backend whose server refuses every connection."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def _reject_inserts_into(table: str) -> None:
    """Make every INSERT into `table` fail inside the database, as a violated constraint would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION reject_insert() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'simulated constraint violation' USING ERRCODE = 'check_violation'; END; "
                "$$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER reject BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION reject_insert()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER reject BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'simulated constraint violation'); END"
            )


def test_a_constraint_violation_fails_the_run_and_writes_no_attendance(settings):
    settings.ADMINS = [("Head", "head@school.example")]
    _reject_inserts_into("school_employeeattendance")

    run = run_push(DAY, trigger="schedule")

    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("IntegrityError: simulated constraint violation")
    assert "Traceback" in run.traceback
    # The students were inserted first, in the same transaction: rolled back with the rest.
    assert not StudentAttendance.objects.exists()
    assert not EmployeeAttendance.objects.exists()
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_fails_the_run_and_writes_no_attendance():
    if connection.vendor != "postgresql":
        pytest.skip("a dropped connection is a database server event; SQLite has no server")
    # Hold the day's lock so the push waits inside its transaction, then cut its connection.
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, DAY.toordinal()])
    outcome = {}

    def push_in_thread():
        outcome["run"] = run_push(DAY, trigger="schedule")
        connections.close_all()

    thread = threading.Thread(target=push_in_thread)
    thread.start()
    try:
        pid = backend_waiting_on_a_lock("%pg_advisory_xact_lock%", what="the push")
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        holder.rollback()
        holder.close()
        thread.join(timeout=30)

    run = PushRun.objects.get(pk=outcome["run"].pk)
    assert run.status == "failed"
    assert run.error.startswith(("OperationalError", "InterfaceError")), run.error
    assert not StudentAttendance.objects.exists()


def test_each_run_logs_one_readable_line_per_event(caplog):
    caplog.set_level("INFO", logger="attendance_push")
    ok = run_push(DAY, trigger="command")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE school_studentattendance RENAME TO school_studentattendance_away")
    failed = run_push(DAY - datetime.timedelta(days=1), trigger="schedule")

    lines = [record.getMessage() for record in caplog.records if record.name == "attendance_push"]
    assert lines[0] == f"Push of 2026-11-20 started (run {ok.pk}, trigger command)."
    assert lines[1].startswith(
        f"Push of 2026-11-20 succeeded (run {ok.pk}): 4 created, 0 check-outs filled, 0 skipped in "
    )
    assert lines[3].startswith(f"Push of 2026-11-19 failed (run {failed.pk}) after ")
    assert "OperationalError" in lines[3] or "ProgrammingError" in lines[3]
    assert all("\n" not in line for line in lines)
    assert not any(record.exc_info for record in caplog.records if record.name == "attendance_push")


def test_catch_up_does_not_retry_a_day_that_failed_since_its_push_time(settings):
    settings.ADMINS = [("Head", "head@school.example")]
    pushed(nov(19))
    schedule_next_run(at(21, 8))
    with time_machine.travel(at(20, 21, 1), tick=False):
        PushRun.objects.create(date=nov(20), trigger="schedule", status="failed", started_at=at(20, 21, 1))
    with time_machine.travel(at(21, 8), tick=False):
        assert catch_up() == []
        assert catch_up() == []
    assert PushRun.objects.filter(date=nov(20)).count() == 1
    assert mail.outbox == []


def test_a_queued_run_that_never_reached_the_queue_does_not_block_the_day(superuser):
    with time_machine.travel(at(20, 9), tick=False):
        lost = PushRun.objects.create(date=nov(20), trigger="admin")  # queued, no task id
    with time_machine.travel(at(20, 9, 5), tick=False), pytest.raises(PushError, match=r"already under way \(queued"):
        queue_push(nov(20), trigger="admin")
    with time_machine.travel(at(20, 12), tick=False):
        queue_push(nov(20), trigger="admin")
    lost.refresh_from_db()
    assert lost.status == "interrupted"


def test_a_broker_that_is_down_fails_the_run_instead_of_leaving_it_queued(
    settings, superuser, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Head", "head@school.example")]
    # The ORM broker's table is gone: async_task cannot hand the push to a worker.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_q_ormq RENAME TO django_q_ormq_away")
    with time_machine.travel(at(20, 12), tick=False), django_capture_on_commit_callbacks(execute=True):
        run = queue_push(nov(20), trigger="admin")
    run.refresh_from_db()
    assert run.status == "failed" and run.task_id == ""
    assert "django_q_ormq" in run.error
    assert len(mail.outbox) == 1
    (message,) = mail.outbox
    assert message.subject.endswith("Attendance push of 2026-11-20 failed")
    assert f"/attendance_push/pushrun/{run.pk}/change/" in message.body
    assert f"Error: {run.error}" in message.body


def queued_undo(make_students, django_capture_on_commit_callbacks) -> tuple[PushRun, PushRun]:
    """Push November 19 and queue its undo for the worker; return both runs."""
    make_students(2)
    with time_machine.travel(at(20, 12), tick=False):
        pushed_run = run_push(nov(19), trigger="admin")
    assert pushed_run.status == "succeeded", pushed_run.error
    with time_machine.travel(at(20, 12, 5), tick=False), django_capture_on_commit_callbacks(execute=True):
        undo_run = queue_undo(pushed_run)
    undo_run.refresh_from_db()
    assert undo_run.status == "queued" and undo_run.task_id
    return pushed_run, undo_run


def test_an_undo_that_fails_in_the_worker_emails_the_admins_like_a_push(
    settings, superuser, make_students, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Head", "head@school.example")]
    pushed_run, undo_run = queued_undo(make_students, django_capture_on_commit_callbacks)
    # The attendance model it pushed was uninstalled before the worker got to the undo.
    PushRun.objects.filter(pk=pushed_run.pk).update(
        pushed={"gone.Model": pushed_run.pushed["school.StudentAttendance"]}
    )
    records = StudentAttendance.objects.filter(date=nov(19)).count()

    with pytest.raises(PushFailed):
        execute_run(undo_run.pk)

    undo_run.refresh_from_db()
    assert undo_run.status == "failed"
    assert "gone.Model, pushed by run" in undo_run.error
    (message,) = mail.outbox
    assert message.to == ["head@school.example"]
    assert message.subject.endswith(f"Undo of run {pushed_run.pk} (push of 2026-11-19) failed")
    assert f"Error: {undo_run.error}" in message.body
    assert f"/attendance_push/pushrun/{undo_run.pk}/change/" in message.body
    assert f"undo_push {pushed_run.pk}" in message.body
    assert StudentAttendance.objects.filter(date=nov(19)).count() == records


def test_an_undo_whose_run_was_deleted_before_the_worker_got_to_it_emails_the_admins(
    settings, superuser, make_students, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Head", "head@school.example")]
    pushed_run, undo_run = queued_undo(make_students, django_capture_on_commit_callbacks)
    # KEEP_RUNS_DAYS pruned the pushed run meanwhile (the undo's link becomes NULL).
    PushRun.objects.filter(pk=undo_run.pk).update(undoes=None)
    PushRun.objects.filter(pk=pushed_run.pk).delete()

    with pytest.raises(PushFailed):
        execute_run(undo_run.pk)

    undo_run.refresh_from_db()
    assert undo_run.status == "failed"
    (message,) = mail.outbox
    assert "Undo of run" in message.subject and "(push of 2026-11-19) failed" in message.subject
    assert f"Error: {undo_run.error}" in message.body
    assert "no longer exists" in undo_run.error


def test_a_successful_undo_in_the_worker_sends_no_mail(
    settings, superuser, make_students, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Head", "head@school.example")]
    _pushed_run, undo_run = queued_undo(make_students, django_capture_on_commit_callbacks)
    assert execute_run(undo_run.pk) == undo_run.pk
    assert mail.outbox == []


def test_an_undo_the_broker_refuses_fails_and_emails_the_admins_like_a_push(
    settings, superuser, make_students, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Head", "head@school.example")]
    make_students(2)
    with time_machine.travel(at(20, 12), tick=False):
        pushed_run = run_push(nov(19), trigger="admin")
    assert pushed_run.status == "succeeded", pushed_run.error
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_q_ormq RENAME TO django_q_ormq_away")
    with time_machine.travel(at(20, 12, 5), tick=False), django_capture_on_commit_callbacks(execute=True):
        undo_run = queue_undo(pushed_run)
    undo_run.refresh_from_db()
    assert undo_run.status == "failed" and undo_run.task_id == ""
    assert "django_q_ormq" in undo_run.error
    (message,) = mail.outbox
    assert message.to == ["head@school.example"]
    assert message.subject.endswith(f"Undo of run {pushed_run.pk} (push of 2026-11-19) failed")
    assert f"The undo of run {pushed_run.pk}, the push of 2026-11-19, failed." in message.body
    assert f"Error: {undo_run.error}" in message.body
    assert f"/attendance_push/pushrun/{undo_run.pk}/change/" in message.body
    assert f"undo_push {pushed_run.pk}" in message.body
