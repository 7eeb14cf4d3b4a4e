"""Seed the demo school with people and a realistic week of attendance."""

import argparse
import os
import random
import zoneinfo
from datetime import date, time, timedelta
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from attendance_push.conf import conf
from attendance_push.text import closed_days
from school.models import (
    AttendanceRecord,
    Employee,
    EmployeeAttendance,
    Leave,
    Student,
    StudentAttendance,
)

BATCH_SIZE = 500
Person = TypeVar("Person", Student, Employee)
Status = AttendanceRecord.Status
# Check-in and check-out windows, in minutes after midnight.
IN_ON_TIME = (8 * 60 + 45, 9 * 60 + 15)
IN_LATE = (9 * 60 + 30, 10 * 60 + 30)
OUT = (16 * 60 + 45, 17 * 60 + 15)


def non_negative_int(value: str) -> int:
    """Parse a command-line count that must be zero or more."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{number} is negative")
    return number


def push_today() -> date:
    """Return today's date in the zone the nightly push runs in."""
    push_settings = getattr(settings, "ATTENDANCE_PUSH", None) or {}
    zone = zoneinfo.ZoneInfo(push_settings.get("TIME_ZONE", settings.TIME_ZONE))
    return timezone.localdate(timezone=zone)


def _rng(*key: object) -> random.Random:
    # String seeds hash with SHA-512, so output is stable across runs and
    # PYTHONHASHSEED values; this is demo data, not security.
    return random.Random(":".join(map(str, key)))  # noqa: S311


def _clock(rng: random.Random, start: int, end: int) -> time:
    minute = rng.randint(start, end)
    return time(minute // 60, minute % 60)


def attendance_fields(rng: random.Random) -> dict[str, object] | None:
    """Draw one day's attendance, or None when the person has no record."""
    roll = rng.random()
    if roll < 0.60:
        status, time_in, time_out = Status.PRESENT, IN_ON_TIME, OUT
    elif roll < 0.70:
        status, time_in, time_out = Status.ABSENT, None, None
    elif roll < 0.75:
        status, time_in, time_out = Status.LATE, IN_LATE, OUT
    elif roll < 0.80:
        status, time_in, time_out = Status.LEAVE, None, None
    elif roll < 0.88:
        status, time_in, time_out = Status.PRESENT, IN_ON_TIME, None
    else:
        return None
    return {
        "status": status,
        "time_in": _clock(rng, *time_in) if time_in else None,
        "time_out": _clock(rng, *time_out) if time_out else None,
    }


def ensure_people(model: type[Person], label: str, count: int) -> tuple[list[Person], int]:
    """Create the first ``count`` deterministically named people if missing."""
    names = [f"{label} {number:03d}" for number in range(1, count + 1)]
    existing = set(model.objects.filter(name__in=names).values_list("name", flat=True))
    new = [
        # Roughly 1 in 20 people has left; the push must skip them.
        model(name=name, is_active=_rng(label, name).random() >= 0.05)
        for name in names
        if name not in existing
    ]
    model.objects.bulk_create(new, batch_size=BATCH_SIZE)
    return list(model.objects.filter(name__in=names, is_active=True)), len(new)


def ensure_leave(employees: list[Employee], today: date) -> set[tuple[int, date]]:
    """Give the first active employee approved leave from yesterday to tomorrow; return its (employee, day) pairs."""
    if not employees:
        return set()
    employee = employees[0]
    first, last = today - timedelta(days=1), today + timedelta(days=1)
    Leave.objects.get_or_create(employee=employee, first_day=first, last_day=last, defaults={"approved": True})
    return {(employee.pk, first + timedelta(days=n)) for n in range((last - first).days + 1)}


def closed_for(model: type[StudentAttendance | EmployeeAttendance], days: list[date]) -> dict[date, str]:
    """Return the days of `days` closed for `model` by the push's calendar, with their reasons.

    Nobody comes in on a closed day (a Saturday, a holiday, a closure), so no device records them.
    An attendance model the push does not target has no calendar: every day is open.
    """
    target = next((target for target in conf.TARGETS if target.label == model._meta.label), None)
    if target is None or not days:
        return {}
    return closed_days([target], min(days), max(days))[target.label]


def seed_attendance(
    model: type[StudentAttendance | EmployeeAttendance],
    person_field: str,
    people: list[Person],
    days: list[date],
    away: frozenset[tuple[int, date]] | set[tuple[int, date]] = frozenset(),
) -> int:
    """Insert missing attendance for active people and return how many were added.

    None on the days they are `away`, and none on the days closed for `model`.
    """
    closed = closed_for(model, days)
    days = [day for day in days if day not in closed]
    records = []
    for person in people:
        for day in days:
            if (person.pk, day) in away:
                continue
            fields = attendance_fields(_rng(person_field, person.name, day.isoformat()))
            if fields is not None:
                records.append(model(**{person_field: person}, date=day, **fields))
    before = model.objects.count()
    # The per-day unique constraint makes reruns skip records that already exist.
    model.objects.bulk_create(records, batch_size=BATCH_SIZE, ignore_conflicts=True)
    return model.objects.count() - before


class Command(BaseCommand):
    help = (
        "Seed demo students, employees and their recent attendance, leaving "
        "some days without records for the nightly push to fill, and none on closed days. Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--students",
            type=non_negative_int,
            default=300,
            help="Number of students to ensure exist (default: 300).",
        )
        parser.add_argument(
            "--employees",
            type=non_negative_int,
            default=40,
            help="Number of employees to ensure exist (default: 40).",
        )
        parser.add_argument(
            "--days",
            type=non_negative_int,
            default=7,
            help="Days of attendance history before today (default: 7).",
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="Create the demo superuser admin/admin unless a superuser exists.",
        )

    def handle(
        self,
        *,
        students: int,
        employees: int,
        days: int,
        superuser: bool,
        verbosity: int,
        **options: object,
    ) -> None:
        today = push_today()
        dates = [today - timedelta(days=offset) for offset in range(days, -1, -1)]
        with transaction.atomic():
            student_list, new_students = ensure_people(Student, "Student", students)
            employee_list, new_employees = ensure_people(Employee, "Employee", employees)
            student_records = seed_attendance(StudentAttendance, "student", student_list, dates)
            # On leave: no record from the device; the push gives these days Leave, not Present.
            on_leave = ensure_leave(employee_list, today)
            employee_records = seed_attendance(EmployeeAttendance, "employee", employee_list, dates, on_leave)
            superuser_message = self.ensure_superuser() if superuser else None

        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created {new_students} students, {new_employees} employees, "
                    f"{student_records} student and {employee_records} employee "
                    f"attendance records for {dates[0]} to {today}."
                )
            )
            closed = {**closed_for(EmployeeAttendance, dates), **closed_for(StudentAttendance, dates)}
            if closed:
                self.stdout.write(
                    "No records on closed days: "
                    + ", ".join(f"{day} ({reason})" for day, reason in sorted(closed.items()))
                    + "."
                )
            if superuser_message:
                self.stdout.write(superuser_message)

    def ensure_superuser(self) -> str:
        """Create the demo superuser if none exists and describe the outcome."""
        user_model = get_user_model()
        existing = user_model._default_manager.filter(is_superuser=True).first()
        if existing is not None:
            return f"Keeping existing superuser {existing.get_username()!r}."
        if user_model._default_manager.filter(username="admin").exists():
            raise CommandError("User 'admin' exists but is not a superuser; not changing it.")
        # Well-known credentials are the point of a local demo login.
        user_model._default_manager.create_superuser(
            username="admin",
            email="admin@example.com",
            password="admin",  # noqa: S106
        )
        # `make run` says which port the web server will listen on.
        port = os.environ.get("PORT", "8000")
        return f"Demo admin: http://127.0.0.1:{port}/admin/  user: admin  password: admin"
