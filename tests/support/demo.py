"""The demo school the tests push: its days and instants, its people and their records, its calendar.

The fixtures here reach every test through conftest.py; a module imports the constants and helpers it uses.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django_q.models import Schedule

from attendance_push.conf import conf
from attendance_push.schedule import ensure_schedule
from school.models import Employee, EmployeeAttendance, Student, StudentAttendance

# Asia/Kathmandu as a fixed offset: it has no daylight saving time, and an instant written with it reads as the
# school's wall clock.
KTM = datetime.timezone(datetime.timedelta(hours=5, minutes=45))

# The day most tests push: a Friday, open in every calendar of the demo.
DAY = datetime.date(2026, 11, 20)
# The instant every in-process test starts at: noon in Kathmandu the day after DAY, so DAY's push
# time has passed and today's has not. A test that needs another instant travels there itself.
PINNED_NOW = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=KTM)
NOON_KATHMANDU = datetime.datetime(2026, 11, 20, 6, 15, tzinfo=datetime.UTC)  # 12:00 on DAY in Asia/Kathmandu

# The demo's calendar (Saturdays off, Nepal's public holidays) around its last weekend of November 2026.
FRIDAY = datetime.date(2026, 11, 27)
SATURDAY = datetime.date(2026, 11, 28)
SUNDAY = datetime.date(2026, 11, 29)
MONDAY_AFTERNOON = datetime.datetime(2026, 11, 30, 14, 5, tzinfo=KTM)
DASHAMI = datetime.date(2026, 10, 20)  # Bijaya Dashami (holidays, NP), a Tuesday

# The demo's targets, by label.
STUDENTS, EMPLOYEES = "school.StudentAttendance", "school.EmployeeAttendance"


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def superuser_client(client, superuser):
    """Return the test client, logged in as the superuser."""
    client.force_login(superuser)
    return client


@pytest.fixture
def pusher(superuser_client):
    """Return the superuser's client, who pushes days from the admin."""
    return superuser_client


@pytest.fixture
def make_students(db):
    """Return a factory creating `n` students (active unless told otherwise)."""

    def make(n: int, *, active: bool = True, prefix: str = "Student") -> list[Student]:
        start = Student.objects.count()
        return Student.objects.bulk_create(
            Student(name=f"{prefix} {start + i:05d}", is_active=active) for i in range(n)
        )

    return make


@pytest.fixture
def make_employees(db):
    def make(n: int, *, active: bool = True) -> list[Employee]:
        start = Employee.objects.count()
        return Employee.objects.bulk_create(
            Employee(name=f"Employee {start + i:05d}", is_active=active) for i in range(n)
        )

    return make


@pytest.fixture
def people(superuser, make_students, make_employees) -> tuple[list[Student], list[Employee]]:
    """Return three students and two employees, with a superuser to record as their pushes' creator."""
    return make_students(3), make_employees(2)


@pytest.fixture
def demo_calendar(settings):
    """Use the demo project's ATTENDANCE_PUSH as it ships: Saturdays off and Nepal's public holidays."""
    settings.ATTENDANCE_PUSH = django_settings.DEMO_ATTENDANCE_PUSH
    assert conf.WEEKLY_OFF == ["SAT"] and conf.HOLIDAYS == {"country": "NP"}


@pytest.fixture
def monday_afternoon(demo_calendar):
    """Stop the clock at MONDAY_AFTERNOON, on the demo's calendar: SATURDAY was closed, FRIDAY open."""
    with time_machine.travel(MONDAY_AFTERNOON, tick=False):
        yield


def attendance(person, day: datetime.date = DAY, **fields):
    """Create and return an attendance record of `person` (a Student or an Employee)."""
    if isinstance(person, Student):
        return StudentAttendance.objects.create(student=person, date=day, **fields)
    return EmployeeAttendance.objects.create(employee=person, date=day, **fields)


def records(day: datetime.date) -> tuple[int, int]:
    """Return how many student and employee records `day` has."""
    return StudentAttendance.objects.filter(date=day).count(), EmployeeAttendance.objects.filter(date=day).count()


def target(label: str):
    """Return the target of the present settings labelled `label` (STUDENTS, EMPLOYEES)."""
    return next(t for t in conf.TARGETS if t.label == label)


def schedule_next_run(moment: datetime.datetime) -> None:
    """Register the daily schedule as the scheduler would have left it at `moment`."""
    Schedule.objects.all().delete()
    with time_machine.travel(moment, tick=False):
        ensure_schedule()
