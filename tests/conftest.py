"""Shared fixtures: a superuser, demo people and their attendance records."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model

from school.models import Employee, EmployeeAttendance, Student, StudentAttendance

DAY = datetime.date(2026, 11, 20)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


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
