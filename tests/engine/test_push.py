"""The push rules of the service: what is created, filled, skipped and left alone."""

from __future__ import annotations

import copy
import datetime
import threading

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext, override_settings

from attendance_push.days import today
from attendance_push.exceptions import PushError
from attendance_push.models import PushRun
from attendance_push.push import push
from attendance_push.runs import run_push
from school.models import Employee, EmployeeAttendance, Student, StudentAttendance
from tests.support.config import push_settings
from tests.support.demo import DAY, NOON_KATHMANDU, attendance
from tests.support.servers import backend_waiting_on_a_lock

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def student_records(day: datetime.date = DAY):
    return StudentAttendance.objects.filter(date=day)


def test_missing_people_get_the_default_record(superuser, make_students, make_employees):
    students = make_students(3)
    make_employees(2)

    result = push(DAY)

    assert (result.created, result.filled, result.skipped) == (5, 0, 0)
    assert result.counts() == {
        "school.StudentAttendance": {
            "created": 3,
            "filled": 0,
            "skipped": 0,
            "rules": [{"rule": "", "status": "Present", "created": 3, "skipped": 0}],
        },
        "school.EmployeeAttendance": {
            "created": 2,
            "filled": 0,
            "skipped": 0,
            "rules": [
                {"rule": "On leave", "status": "Leave", "created": 0, "skipped": 0},
                {"rule": "", "status": "Present", "created": 2, "skipped": 0},
            ],
        },
    }
    record = StudentAttendance.objects.get(student=students[0], date=DAY)
    assert record.status == "Present"
    assert record.time_in == datetime.time(9, 0)
    assert record.time_out == datetime.time(17, 0)
    assert record.created_by == superuser
    assert record.created_at is not None and record.updated_at is not None
    assert EmployeeAttendance.objects.filter(date=DAY).count() == 2


def test_a_check_in_without_check_out_gets_the_default_check_out(superuser, make_students):
    student, late = make_students(2)
    attendance(student, status="Present", time_in=datetime.time(8, 50))
    attendance(late, status="Late", time_in=datetime.time(10, 30))

    result = push(DAY)

    assert (result.created, result.filled, result.skipped) == (0, 2, 0)
    assert list(student_records().order_by("student__name").values_list("status", "time_in", "time_out")) == [
        ("Present", datetime.time(8, 50), datetime.time(17, 0)),
        ("Late", datetime.time(10, 30), datetime.time(17, 0)),
    ]


def test_a_check_in_after_the_default_check_out_is_skipped(superuser, make_students):
    (student,) = make_students(1)
    record = attendance(student, time_in=datetime.time(18, 30))

    result = push(DAY)

    assert (result.created, result.filled, result.skipped) == (0, 0, 1)
    record.refresh_from_db()
    assert record.time_out is None


def test_other_records_are_left_alone(superuser, make_students):
    absent, left_early, at_checkout = make_students(3)
    records = [
        attendance(absent, status="Absent"),
        attendance(left_early, status="Present", time_in=datetime.time(9, 5), time_out=datetime.time(12, 0)),
        attendance(at_checkout, status="Leave"),
    ]
    before = [(r.status, r.time_in, r.time_out, r.created_by_id, r.updated_at) for r in records]

    result = push(DAY)

    assert (result.created, result.filled, result.skipped) == (0, 0, 0)
    after = [
        (r.status, r.time_in, r.time_out, r.created_by_id, r.updated_at)
        for r in StudentAttendance.objects.filter(pk__in=[r.pk for r in records]).order_by("pk")
    ]
    assert after == before


def test_inactive_people_get_nothing(superuser, make_students):
    make_students(2)
    (gone,) = make_students(1, active=False)
    attendance(gone, time_in=datetime.time(9, 0))

    result = push(DAY)

    assert result.created == 2 and result.filled == 0
    assert not StudentAttendance.objects.filter(student=gone, time_out__isnull=False).exists()
    assert student_records().count() == 3


def test_a_check_in_exactly_at_the_default_check_out_is_filled(superuser, make_students):
    (student,) = make_students(1)
    attendance(student, time_in=datetime.time(17, 0))

    assert push(DAY).filled == 1


def test_pushing_the_same_day_twice_creates_nothing_the_second_time(superuser, make_students):
    (student, _other) = make_students(2)
    attendance(make_students(1)[0], time_in=datetime.time(9, 0))

    first = push(DAY)
    second = push(DAY)

    assert (first.created, first.filled) == (2, 1)
    assert (second.created, second.filled, second.skipped) == (0, 0, 0)
    assert student_records().count() == 3


def test_other_days_are_not_touched(superuser, make_students):
    (student,) = make_students(1)
    other_day = DAY - datetime.timedelta(days=1)
    attendance(student, day=other_day, time_in=datetime.time(9, 0))

    push(DAY)

    assert StudentAttendance.objects.get(date=other_day).time_out is None
    assert student_records().count() == 1


def test_dry_run_counts_exactly_what_the_push_then_does_and_writes_nothing(superuser, make_students):
    a, b, c, _d = make_students(4)
    attendance(a, time_in=datetime.time(9, 0))
    attendance(b, time_in=datetime.time(19, 0))
    attendance(c, status="Absent")

    preview = push(DAY, dry_run=True)
    assert student_records().count() == 3
    assert StudentAttendance.objects.get(student=a).time_out is None

    done = push(DAY)
    assert preview.dry_run and not done.dry_run
    assert preview.counts() == done.counts()
    assert (done.created, done.filled, done.skipped) == (1, 1, 1)


def test_a_future_day_is_refused_and_writes_nothing(superuser, make_students):
    make_students(2)
    with time_machine.travel(NOON_KATHMANDU, tick=False):
        assert today() == DAY
        with pytest.raises(PushError, match="2026-11-21 is in the future"):
            push(DAY + datetime.timedelta(days=1))
        with pytest.raises(PushError):
            push(DAY + datetime.timedelta(days=1), dry_run=True)
    assert not StudentAttendance.objects.exists()


def test_today_is_read_in_the_push_time_zone_not_the_server_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    # 20:00 UTC on the 20th is already 01:45 on the 21st in Kathmandu.
    with time_machine.travel(datetime.datetime(2026, 11, 20, 20, 0, tzinfo=datetime.UTC), tick=False):
        assert today() == datetime.date(2026, 11, 21)


def test_no_superuser_fails_with_how_to_fix_it_and_writes_nothing(make_students):
    make_students(2)
    get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    with pytest.raises(PushError, match="manage.py createsuperuser"):
        push(DAY)
    assert not StudentAttendance.objects.exists()


def test_an_inactive_superuser_is_not_an_actor(make_students):
    make_students(1)
    get_user_model().objects.create_superuser("old", password="pw", is_active=False)
    with pytest.raises(PushError, match="createsuperuser"):
        push(DAY)


def test_the_first_superuser_by_id_is_the_actor(make_students):
    User = get_user_model()  # noqa: N806
    first = User.objects.create_superuser("first", password="pw")
    User.objects.create_superuser("second", password="pw")
    make_students(1)

    push(DAY)

    assert StudentAttendance.objects.get().created_by == first


def test_actor_setting_names_the_creator(settings, superuser, make_students):
    clerk = get_user_model().objects.create_user("clerk", password="pw")
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="clerk")
    make_students(1)

    push(DAY)

    assert StudentAttendance.objects.get().created_by == clerk


def test_an_actor_setting_that_names_nobody_fails_and_writes_nothing(settings, superuser, make_students):
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost")
    make_students(1)
    with pytest.raises(PushError, match="'ghost'.*no active user"):
        push(DAY)
    assert not StudentAttendance.objects.exists()


def test_all_targets_land_together_or_not_at_all(superuser, make_students, make_employees):
    (student,) = make_students(2)[:1]
    make_employees(2)
    attendance(student, time_in=datetime.time(9, 0))
    # The second target's table is gone (a half-migrated host database): its INSERT fails
    # after the first target was written in the same transaction.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE school_employeeattendance RENAME TO school_employeeattendance_away")

    with pytest.raises(Exception, match="school_employeeattendance"):
        push(DAY)

    assert student_records().count() == 1
    assert StudentAttendance.objects.get().time_out is None


def test_settings_customise_the_default_record(settings, superuser, make_students):
    settings.ATTENDANCE_PUSH = push_settings(STATUS="Late", CHECK_IN="08:15", CHECK_OUT="15:30")
    (with_check_in, _) = make_students(2)
    attendance(with_check_in, time_in=datetime.time(8, 0))

    push(DAY)

    assert list(student_records().order_by("student__name").values_list("status", "time_in", "time_out")) == [
        ("Present", datetime.time(8, 0), datetime.time(15, 30)),
        ("Late", datetime.time(8, 15), datetime.time(15, 30)),
    ]


def test_a_target_without_time_and_creator_fields_still_gets_records(settings, make_students):
    target = {
        "attendance": "school.StudentAttendance",
        "person_field": "student",
        "check_in_field": None,
        "check_out_field": None,
        "created_by_field": None,
    }
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[target])
    make_students(2)

    # No creator field, so no superuser is needed.
    result = push(DAY)

    assert result.created == 2
    assert set(student_records().values_list("time_in", "time_out", "created_by")) == {(None, None, None)}


def test_people_filter_lookups_across_a_relation_create_one_record_per_person(settings, superuser, make_students):
    a, b = make_students(2)
    for day in (DAY - datetime.timedelta(days=1), DAY - datetime.timedelta(days=2)):
        attendance(a, day=day, status="Present")
    attendance(b, day=DAY - datetime.timedelta(days=1), status="Absent")
    target = copy.deepcopy(settings.ATTENDANCE_PUSH["TARGETS"][0])
    # Students with any Present record: the join repeats `a` once per matching record.
    target["people_filter"] = {"attendance__status": "Present"}
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[target])

    assert push(DAY, dry_run=True).created == 1
    assert push(DAY).created == 1
    assert list(student_records().values_list("student", flat=True)) == [a.pk]


def _statements(queries) -> int:
    # Savepoints depend on whether a test transaction surrounds the push, not on the push.
    return sum(1 for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT")))


def test_the_number_of_statements_does_not_grow_with_the_people(superuser, make_students, make_employees):
    counts = {}
    for people, day in ((10, DAY - datetime.timedelta(days=1)), (1000, DAY)):
        make_students(people - Student.objects.count())
        make_employees(people // 10 - Employee.objects.count())
        with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as captured:
            result = push(day)
        assert result.created == people + people // 10
        counts[people] = _statements(captured.captured_queries)
    # The day's closures and make-up days, the actor, then per target: UPDATE check-outs, COUNT
    # skipped, INSERT … SELECT; one more INSERT … SELECT for the employees' rule (approved leave);
    # plus one advisory lock on PostgreSQL.
    expected = 2 + 1 + 3 * 2 + 1 + (1 if connection.vendor == "postgresql" else 0)
    assert counts == {10: expected, 1000: expected}


def test_run_push_records_a_succeeded_run(superuser, make_students):
    make_students(3)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND, requested_by=superuser)
    run.refresh_from_db()
    assert run.status == PushRun.Status.SUCCEEDED
    assert (run.created, run.filled, run.skipped) == (3, 0, 0)
    assert run.counts["school.StudentAttendance"] == {
        "created": 3,
        "filled": 0,
        "skipped": 0,
        "rules": [{"rule": "", "status": "Present", "created": 3, "skipped": 0}],
    }
    assert run.requested_by == superuser
    assert run.started_at <= run.finished_at
    assert run.duration is not None and run.error == "" and run.traceback == ""


def test_run_push_records_a_failure_with_a_readable_error_and_the_traceback(make_students):
    make_students(1)
    run = run_push(DAY, trigger=PushRun.Trigger.SCHEDULE)
    run.refresh_from_db()
    assert run.status == PushRun.Status.FAILED
    assert run.error.startswith("No active superuser")
    assert "\n" not in run.error
    assert "Traceback" in run.traceback and "NoActorError" in run.traceback
    assert run.finished_at is not None
    assert not StudentAttendance.objects.exists()


def test_run_push_names_the_class_of_an_unexpected_error(superuser, make_students):
    make_students(1)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE school_studentattendance RENAME TO school_studentattendance_away")
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.FAILED
    assert run.error.split(":")[0] in {"OperationalError", "ProgrammingError"}


@override_settings(ATTENDANCE_PUSH=push_settings(TARGETS=[]))
def test_no_targets_is_an_empty_push(superuser):
    result = push(DAY)
    assert result.targets == () and result.created == 0


@pytest.mark.django_db(transaction=True)
def test_a_record_written_by_someone_else_during_the_insert_is_kept(superuser, make_students):
    """A device writes a record while the push's INSERT runs: the push keeps it and inserts the rest."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers in one table; SQLite has a single writer")
    students = make_students(3)
    device = connections.create_connection("default")
    device.set_autocommit(False)
    with device.cursor() as cursor:
        # Not committed yet: the push's NOT EXISTS cannot see it, but its INSERT will wait on it.
        cursor.execute(
            "INSERT INTO school_studentattendance (student_id, date, status, time_in, created_at, updated_at) "
            "VALUES (%s, %s, 'Late', '10:15', now(), now())",
            [students[1].pk, DAY],
        )
    outcome = {}

    def push_in_thread():
        try:
            outcome["result"] = push(DAY)
        finally:
            connections.close_all()

    thread = threading.Thread(target=push_in_thread)
    thread.start()
    try:
        backend_waiting_on_a_lock("INSERT INTO%school_studentattendance%SELECT%", what="the push's INSERT")
        device.commit()
    finally:
        device.close()
        thread.join(timeout=30)

    assert outcome["result"].counts()["school.StudentAttendance"]["created"] == 2
    assert sorted(StudentAttendance.objects.filter(date=DAY).values_list("student", "status")) == [
        (students[0].pk, "Present"),
        (students[1].pk, "Late"),
        (students[2].pk, "Present"),
    ]
