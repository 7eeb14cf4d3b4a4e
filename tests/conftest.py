"""Shared fixtures: a superuser and a client logged in as it, demo people and their attendance records."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django_q.models import Schedule

from attendance_push.schedule import ensure_schedule
from school.models import Employee, EmployeeAttendance, Student, StudentAttendance
from tests.support.processes import zone_at_noon

DAY = datetime.date(2026, 11, 20)
# The instant every in-process test starts at: noon in Kathmandu the day after DAY, so DAY's push
# time has passed and today's has not. A test that needs another instant travels there itself.
PINNED_NOW = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=45)))


@pytest.fixture(autouse=True)
def pinned_clock(request):
    """Start each in-process test at PINNED_NOW, whatever the wall clock and TZ say.

    The clock keeps ticking from there. Tests marked `process` start real processes, whose clocks
    cannot be moved: they pin what they depend on instead (see `processes.noon_zone`).
    """
    if request.node.get_closest_marker("process"):
        yield
        return
    with time_machine.travel(PINNED_NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def default_language():
    """End each test in the site's language.

    A test client's request in Nepali (LocaleMiddleware) leaves Nepali active in the test's thread,
    as a web worker's thread keeps it until its next request: without this, the next test would read
    Nepali where it expects English.
    """
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Register the plugin's schedules as at PINNED_NOW; migrate registered them at the wall-clock time."""
    with django_db_blocker.unblock(), time_machine.travel(PINNED_NOW, tick=False):
        schedule_next_run(PINNED_NOW)


@pytest.fixture
def noon_zone(settings, transactional_db) -> str:
    """Push in a zone where it is about noon now, schedules included; return the zone's name.

    For tests that start workers: `processes.process_env` hands the zone to their processes.
    """
    zone = zone_at_noon()
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "TIME_ZONE": zone}
    schedule_next_run(datetime.datetime.now(datetime.UTC))
    return zone


def schedule_next_run(moment: datetime.datetime) -> None:
    """Register the daily schedule as the scheduler would have left it at `moment`."""
    Schedule.objects.all().delete()
    with time_machine.travel(moment, tick=False):
        ensure_schedule()


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def superuser_client(client, superuser):
    """Return the test client, logged in as the superuser."""
    client.force_login(superuser)
    return client


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


def attendance(person, day: datetime.date = DAY, **fields):
    """Create and return an attendance record of `person` (a Student or an Employee)."""
    if isinstance(person, Student):
        return StudentAttendance.objects.create(student=person, date=day, **fields)
    return EmployeeAttendance.objects.create(employee=person, date=day, **fields)
