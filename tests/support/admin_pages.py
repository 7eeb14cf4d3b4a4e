"""Set-up shared by the admin tests: the history's addresses, a clock stopped for a module's tests,
staff users holding chosen permissions, failed runs."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from attendance_push.models import PushRun

CHANGELIST = "/admin/attendance_push/pushrun/"
PUSH = f"{CHANGELIST}push/"
STATUS = f"{CHANGELIST}status/"
KTM = datetime.timezone(datetime.timedelta(hours=5, minutes=45))


def frozen_at(moment: datetime.datetime):
    """Return an autouse fixture that stops the clock at `moment` for each test of the module holding it."""

    @pytest.fixture(autouse=True)
    def frozen_time():
        with time_machine.travel(moment, tick=False):
            yield

    return frozen_time


def staff_with(*codenames: str, username: str = "clerk"):
    """Create and return a staff user holding only the permissions named by `codenames`."""
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def failed_run(day: datetime.date, *, trigger: str = "schedule", **fields) -> PushRun:
    """Record a failed run of `day` (the schedule's unless `trigger` says otherwise)."""
    return PushRun.objects.create(date=day, trigger=trigger, status="failed", **fields)
