"""`push_attendance`: success, dry run, ranges and every user mistake."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from attendance_push.models import PushRun
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.config import push_settings
from tests.support.demo import DAY, NOON_KATHMANDU, attendance

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def push_attendance(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(NOON_KATHMANDU, tick=False):
        call_command("push_attendance", *args, stdout=out)
    return out.getvalue()


def test_default_is_today_in_the_push_zone(superuser, make_students, make_employees):
    make_students(3)
    make_employees(1)

    out = push_attendance()

    assert "2026-11-20 pushed" in out
    assert "school.StudentAttendance: 3 created, 0 check-outs filled, 0 skipped" in out
    assert "school.EmployeeAttendance: 1 created, 0 check-outs filled, 0 skipped" in out
    run = PushRun.objects.get()
    assert (run.date, run.trigger, run.status, run.created) == (DAY, "command", "succeeded", 4)


def test_a_given_date(superuser, make_students):
    (student,) = make_students(1)
    day = DAY - datetime.timedelta(days=3)
    attendance(student, day=day, time_in=datetime.time(9, 0))

    out = push_attendance("--date", day.isoformat())

    assert "2026-11-17 pushed" in out and "0 created, 1 check-outs filled" in out
    assert StudentAttendance.objects.get(date=day).time_out == datetime.time(17, 0)


def test_dry_run_prints_the_counts_and_writes_nothing(superuser, make_students):
    (student, _) = make_students(2)
    attendance(student, time_in=datetime.time(9, 0))

    out = push_attendance("--dry-run")

    assert "2026-11-20 would push:" in out
    assert "school.StudentAttendance: 1 created, 1 check-outs filled, 0 skipped" in out
    assert StudentAttendance.objects.count() == 1
    assert StudentAttendance.objects.get().time_out is None
    assert not PushRun.objects.exists()


def test_a_range_pushes_each_day_with_progress(superuser, make_students):
    make_students(2)

    out = push_attendance("--from", "2026-11-18", "--to", "2026-11-20")

    assert "[1/3] 2026-11-18 pushed" in out
    assert "[3/3] 2026-11-20 pushed" in out
    assert sorted(PushRun.objects.values_list("date", flat=True)) == [
        datetime.date(2026, 11, 18),
        datetime.date(2026, 11, 19),
        datetime.date(2026, 11, 20),
    ]
    assert StudentAttendance.objects.count() == 6


def test_verbosity_0_prints_nothing(superuser, make_students):
    make_students(1)
    out = StringIO()
    with time_machine.travel(NOON_KATHMANDU, tick=False):
        call_command("push_attendance", verbosity=0, stdout=out)
    assert out.getvalue() == ""
    assert StudentAttendance.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-11-21"], "2026-11-21 is in the future (today is 2026-11-20 in Asia/Kathmandu)"),
        (["--from", "2026-11-19", "--to", "2026-11-21"], "2026-11-21 is in the future"),
        (["--date", "20-11-2026"], "'20-11-2026' is not a date; write it as YYYY-MM-DD."),
        (["--date", "2026-02-30"], "'2026-02-30' is not a date"),
        (["--date", "2026-11-19", "--from", "2026-11-18", "--to", "2026-11-19"], "either --date or --from/--to"),
        (["--from", "2026-11-18"], "A range needs both --from and --to."),
        (["--from", "2026-11-19", "--to", "2026-11-18"], "--from 2026-11-19 is after --to 2026-11-18."),
    ],
)
def test_mistakes_get_one_clear_error_and_change_nothing(superuser, make_students, args, message):
    make_students(2)
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        push_attendance(*args)
    assert not StudentAttendance.objects.exists()
    assert not PushRun.objects.exists()


def test_no_superuser_is_refused_before_anything_is_recorded(make_students):
    make_students(2)
    with pytest.raises(CommandError, match="manage.py createsuperuser"):
        push_attendance("--from", "2026-11-18", "--to", "2026-11-20")
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_a_range_stops_at_the_first_failing_day(superuser, make_students, make_employees):
    make_students(1)
    make_employees(1)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE school_employeeattendance RENAME TO school_employeeattendance_away")

    with pytest.raises(CommandError, match=r"^Push of 2026-11-18 failed \(PushRun \d+\): \w+Error: "):
        push_attendance("--from", "2026-11-18", "--to", "2026-11-20")

    assert list(PushRun.objects.values_list("date", "status")) == [(datetime.date(2026, 11, 18), "failed")]
    # One transaction: the student written before the employee table failed is rolled back.
    assert not StudentAttendance.objects.exists()


def test_a_failing_push_of_one_day_fails_the_command(superuser, make_students):
    make_students(1)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE school_studentattendance RENAME TO school_studentattendance_away")

    with pytest.raises(CommandError, match=r"Push of 2026-11-20 failed \(PushRun \d+\)"):
        push_attendance()

    assert PushRun.objects.get().status == "failed"
    assert not EmployeeAttendance.objects.exists()


def test_an_actor_that_names_nobody_is_refused(settings, make_students):
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="nobody")
    get_user_model().objects.create_superuser("root", password="pw")
    make_students(1)
    with pytest.raises(CommandError, match="'nobody'"):
        push_attendance()
    assert not PushRun.objects.exists()
