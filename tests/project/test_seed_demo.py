"""The `seed_demo` command: people, a realistic history with gaps, idempotence and the demo login."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q

from attendance_push.days import today
from attendance_push.models import Closure, WorkingDay
from attendance_push.push import push
from school.models import Employee, EmployeeAttendance, Leave, Student, StudentAttendance
from tests.support.demo import DAY, KTM, NOON_KATHMANDU

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

SMALL = {"students": 30, "employees": 5, "days": 3}
# Enough people that every kind of draw (about 12% no record, 8% no check-out) shows up today
# whatever the day, and still fast.
CROWD = {"students": 300, "employees": 40, "days": 1}
TARGETS = ((Student, StudentAttendance, "student"), (Employee, EmployeeAttendance, "employee"))


@pytest.fixture(autouse=True)
def frozen_today():
    """The draws are seeded by the day: a fixed today makes the seeded data the same on every run."""
    with time_machine.travel(NOON_KATHMANDU, tick=False):
        assert today() == DAY
        yield DAY


def seed(*args: str, **options: object) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, **{**SMALL, **options})
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "students": Student.objects.count(),
        "employees": Employee.objects.count(),
        "student records": StudentAttendance.objects.count(),
        "employee records": EmployeeAttendance.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_creates_the_requested_people_with_deterministic_names():
    output = seed()

    assert Student.objects.count() == 30 and Employee.objects.count() == 5
    assert set(Student.objects.values_list("name", flat=True)) == {f"Student {n:03d}" for n in range(1, 31)}
    assert set(Employee.objects.values_list("name", flat=True)) == {f"Employee {n:03d}" for n in range(1, 6)}
    assert output.startswith("Created 30 students, 5 employees, ")
    assert f"for {DAY - datetime.timedelta(days=3)} to {DAY}." in output


def test_seeds_the_requested_days_up_to_today_and_none_in_the_future():
    seed()

    expected = {DAY - datetime.timedelta(days=offset) for offset in range(4)}
    assert set(StudentAttendance.objects.values_list("date", flat=True)) == expected
    assert set(EmployeeAttendance.objects.values_list("date", flat=True)) <= expected


def test_the_history_is_a_realistic_mix_with_gaps_for_the_push():
    seed(**CROWD)

    statuses = set(StudentAttendance.objects.values_list("status", flat=True))
    assert {"Present", "Absent", "Late", "Leave"} <= statuses
    absent = StudentAttendance.objects.filter(status__in=["Absent", "Leave"])
    assert absent.exists()
    assert not absent.filter(Q(time_in__isnull=False) | Q(time_out__isnull=False)).exists()
    # Checked in, never checked out: the push fills these.
    assert StudentAttendance.objects.filter(date=DAY, time_in__isnull=False, time_out__isnull=True).exists()
    # Active people with no record at all today: the push creates these.
    assert Student.objects.filter(is_active=True).exclude(attendance__date=DAY).exists()
    # Every check-in falls in the morning windows, before the default check-out.
    times = StudentAttendance.objects.filter(time_in__isnull=False).values_list("time_in", flat=True)
    assert all(datetime.time(8, 45) <= t <= datetime.time(10, 30) for t in times)


def test_people_who_have_left_get_no_records():
    seed(students=200)

    gone = Student.objects.filter(is_active=False)
    assert gone.exists()  # About 1 in 20 has left.
    assert not StudentAttendance.objects.filter(student__in=gone).exists()


def test_running_twice_changes_nothing():
    seed(superuser=True)
    first = snapshot()
    records = list(StudentAttendance.objects.order_by("pk").values("student", "date", "status", "time_in", "time_out"))

    output = seed(superuser=True)

    assert snapshot() == first
    assert records == list(
        StudentAttendance.objects.order_by("pk").values("student", "date", "status", "time_in", "time_out")
    )
    assert output.startswith("Created 0 students, 0 employees, 0 student and 0 employee attendance records")


def test_a_larger_rerun_adds_only_the_new_people():
    seed(students=10)
    seed(students=12)

    assert Student.objects.count() == 12
    assert Student.objects.filter(name="Student 012").exists()


def test_superuser_option_creates_the_demo_admin_and_prints_the_login():
    output = seed(superuser=True)

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert admin.check_password("admin")
    assert "user: admin  password: admin" in output
    assert "/admin/" in output


def test_superuser_option_keeps_an_existing_superuser(superuser):
    output = seed(superuser=True)

    assert "Keeping existing superuser 'root'" in output
    assert not get_user_model().objects.filter(username="admin").exists()
    assert list(get_user_model().objects.filter(is_superuser=True)) == [superuser]


def test_without_the_option_no_user_is_created():
    output = seed()

    assert not get_user_model().objects.exists()
    assert "password" not in output


def test_an_existing_non_superuser_admin_is_refused_and_nothing_is_seeded():
    get_user_model().objects.create_user("admin", password="secret")

    with pytest.raises(CommandError, match="'admin' exists but is not a superuser"):
        seed(superuser=True)

    admin = get_user_model().objects.get(username="admin")
    assert not admin.is_superuser and admin.check_password("secret")
    assert not Student.objects.exists() and not StudentAttendance.objects.exists()


@pytest.mark.parametrize("option", ["--students=-1", "--employees=-5", "--days=-2"])
def test_negative_numbers_are_refused(option):
    with pytest.raises(CommandError, match="is negative"):
        call_command("seed_demo", option, stdout=StringIO())
    assert not Student.objects.exists() and not Employee.objects.exists()


def test_non_numbers_are_refused():
    with pytest.raises(CommandError, match="'many' is not an integer"):
        call_command("seed_demo", "--students=many", stdout=StringIO())


def test_today_is_the_push_time_zone_s_today_not_the_server_s(settings):
    settings.TIME_ZONE = "America/New_York"
    # 20:00 UTC on the 20th is 15:00 on the 20th in New York but 01:45 on the 21st in Kathmandu.
    with time_machine.travel(datetime.datetime(2026, 11, 20, 20, 0, tzinfo=datetime.UTC), tick=False):
        seed(days=0)
        assert today() == DAY + datetime.timedelta(days=1)

    assert set(StudentAttendance.objects.values_list("date", flat=True)) == {DAY + datetime.timedelta(days=1)}


def test_zero_days_seeds_only_today():
    seed(days=0)

    assert set(StudentAttendance.objects.values_list("date", flat=True)) == {DAY}


def test_the_push_fills_the_gaps_the_seed_leaves_today():
    seed(superuser=True, **CROWD)
    day = today()
    expected = {}
    for person_model, record_model, person_field in TARGETS:
        active = person_model.objects.filter(is_active=True)
        missing = active.exclude(attendance__date=day).count()
        open_today = record_model.objects.filter(
            date=day, time_in__isnull=False, time_out__isnull=True, **{f"{person_field}__is_active": True}
        ).count()
        expected[record_model._meta.label] = {"created": missing, "filled": open_today, "skipped": 0}
    assert expected["school.StudentAttendance"]["created"] > 0
    assert expected["school.StudentAttendance"]["filled"] > 0
    history_before = StudentAttendance.objects.exclude(date=day).count()

    result = push(day)

    assert totals(result) == expected
    for person_model, record_model, _ in TARGETS:
        active = person_model.objects.filter(is_active=True)
        assert not active.exclude(attendance__date=day).exists()
        assert record_model.objects.filter(date=day).count() == active.count()
        assert not record_model.objects.filter(date=day, time_in__isnull=False, time_out__isnull=True).exists()
    assert StudentAttendance.objects.exclude(date=day).count() == history_before
    assert totals(push(day)) == {label: {"created": 0, "filled": 0, "skipped": 0} for label in expected}


def test_the_seeded_employee_on_leave_gets_leave_not_present():
    seed(superuser=True, **CROWD)
    day = today()
    leave = Leave.objects.get()
    assert leave.approved and leave.first_day < day < leave.last_day
    assert not EmployeeAttendance.objects.filter(employee=leave.employee, date__gte=leave.first_day).exists()

    push(day)

    record = EmployeeAttendance.objects.get(employee=leave.employee, date=day)
    assert (record.status, record.time_in, record.time_out) == ("Leave", None, None)


def totals(result) -> dict[str, dict[str, int]]:
    keys = ("created", "filled", "skipped")
    return {label: {key: counts[key] for key in keys} for label, counts in result.counts().items()}


# Closed days: nobody comes in, so the demo seeds no record on them ---------------------------------------------


def seeded_days(model) -> set[datetime.date]:
    return set(model.objects.values_list("date", flat=True))


def test_no_records_on_the_weekly_off_or_a_holiday(demo_calendar):
    output = seed(**{**CROWD, "days": 7})

    saturday, chhath = datetime.date(2026, 11, 14), datetime.date(2026, 11, 15)
    week = {DAY - datetime.timedelta(days=offset) for offset in range(8)}
    assert seeded_days(StudentAttendance) == week - {saturday, chhath}
    assert seeded_days(EmployeeAttendance) == week - {saturday, chhath}
    assert "No records on closed days: 2026-11-14 (weekly off (Saturday)), 2026-11-15 (Chhath Parva)." in output


def test_no_records_on_public_holidays_and_the_push_of_one_creates_none(demo_calendar, superuser):
    # Dashain 2026: Fulpati (Sun 18), Maha Ashtami and Navami (19), Bijaya Dashami (20), Ekadashi (21),
    # Duwadashi (22); Saturday the 17th is the weekly off. Only Friday the 16th and Friday the 23rd are open.
    with time_machine.travel(datetime.datetime(2026, 10, 23, 12, 0, tzinfo=KTM), tick=False):
        output = seed(**{**CROWD, "days": 7})
        open_days = {datetime.date(2026, 10, 16), datetime.date(2026, 10, 23)}
        assert seeded_days(StudentAttendance) == open_days
        assert seeded_days(EmployeeAttendance) == open_days
        assert "2026-10-20 (Bijaya Dashami)" in output and "2026-10-17 (weekly off (Saturday))" in output
        result = push(datetime.date(2026, 10, 20))
    assert result.created == 0
    assert not StudentAttendance.objects.filter(date=datetime.date(2026, 10, 20)).exists()


def test_a_closure_for_students_only_leaves_the_employees_records(demo_calendar):
    Closure.objects.create(
        name="Sports week",
        first_day=DAY - datetime.timedelta(days=1),
        last_day=DAY,
        targets=["school.StudentAttendance"],
    )
    seed(**{**CROWD, "days": 2})

    assert seeded_days(StudentAttendance) == {DAY - datetime.timedelta(days=2)}
    assert seeded_days(EmployeeAttendance) == {DAY - datetime.timedelta(days=offset) for offset in range(3)}


def test_a_make_up_saturday_gets_records(demo_calendar):
    saturday = datetime.date(2026, 11, 14)
    WorkingDay.objects.create(day=saturday, name="Make-up day for Tihar")
    output = seed(**{**CROWD, "days": 7})

    assert saturday in seeded_days(StudentAttendance)
    assert "2026-11-14" not in output
    assert "No records on closed days: 2026-11-15 (Chhath Parva)." in output
