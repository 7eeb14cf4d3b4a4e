"""Set-up shared by the admin tests: the history's addresses, a clock stopped for a module's tests,
staff users holding chosen permissions, and what a page shows (its messages, a calendar's day)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

CHANGELIST = "/admin/attendance_push/pushrun/"
PUSH = f"{CHANGELIST}push/"
STATUS = f"{CHANGELIST}status/"


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


def messages_of(response) -> list[str]:
    """Return the messages `response`'s page shows."""
    return [str(message) for message in response.context["messages"]] if response.context else []


def calendar_cell(content: str, day: str) -> str:
    """Return the <a> element of `day` in the history calendar."""
    before, after = content.split(f'data-day="{day}"', 1)
    return before.rsplit("<a ", 1)[1] + f'data-day="{day}"' + after.split("</a>", 1)[0]
