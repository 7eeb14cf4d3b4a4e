"""Set-up shared by the closed-days admin tests: the demo's calendar on a clock stopped on a Monday
afternoon after a Saturday, a few people, a superuser's client, the messages a page shows."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings as django_settings

from tests.support.admin_pages import KTM

NOW = datetime.datetime(2026, 11, 30, 14, 5, tzinfo=KTM)  # a Monday afternoon
SATURDAY = datetime.date(2026, 11, 28)
FRIDAY = datetime.date(2026, 11, 27)
STUDENTS, EMPLOYEES = "school.StudentAttendance", "school.EmployeeAttendance"


@pytest.fixture(autouse=True)
def demo(settings):
    """The demo's calendar (Saturdays off, Nepal's holidays), at NOW."""
    settings.ATTENDANCE_PUSH = django_settings.DEMO_ATTENDANCE_PUSH
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people(superuser, make_students, make_employees):
    return make_students(3), make_employees(2)


@pytest.fixture
def pusher(client, superuser):
    client.force_login(superuser)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []
