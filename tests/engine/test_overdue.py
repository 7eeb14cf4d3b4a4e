"""A push past its time that no worker started says since when it is overdue, not "due now" for ever."""

from __future__ import annotations

import datetime
import json
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import translation
from django_q.models import Schedule

from attendance_push import health
from attendance_push.admin import views as push_admin
from attendance_push.health import OVERDUE_AFTER, duration_text, next_push_text
from attendance_push.schedule import ensure_schedule
from tests.support.demo import KTM
from tests.support.runs import pushed

pytestmark = pytest.mark.django_db

# 18:50 on Thursday 3 December 2026 in Kathmandu: the schedule is registered for 21:00 that evening.
REGISTERED = datetime.datetime(2026, 12, 3, 18, 50, tzinfo=KTM)
PUSH_TIME = datetime.datetime(2026, 12, 3, 21, 0, tzinfo=KTM)
CHANGELIST = "/admin/attendance_push/pushrun/"
HEALTH = "/attendance-push/health/"
OVERDUE_1H = "overdue since Thursday 3 December, 21:00 Asia/Kathmandu (1 h ago): no worker is running"
OVERDUE_2H5 = "overdue since Thursday 3 December, 21:00 Asia/Kathmandu (2 h 5 min ago): no worker is running"


@pytest.fixture(autouse=True)
def registered_before_the_push(superuser):
    """The daily schedule as a worker left it before the evening: next run at 21:00 on the 3rd.

    With a superuser to record as the creator (without one the next push would fail: a problem of its own).
    """
    Schedule.objects.all().delete()
    with time_machine.travel(REGISTERED, tick=False):
        ensure_schedule()
    assert Schedule.objects.get(name="attendance_push.daily").next_run == PUSH_TIME


def at(hour: int, minute: int, day: int = 3):
    return time_machine.travel(datetime.datetime(2026, 12, day, hour, minute, tzinfo=KTM), tick=False)


def worker_last_seen(hour: int, minute: int) -> None:
    """Leave the catch-up check as a worker firing it every 5 minutes did until `hour`:`minute` on the 3rd."""
    seen = datetime.datetime(2026, 12, 3, hour, minute, tzinfo=KTM)
    Schedule.objects.filter(name="attendance_push.catch_up").update(next_run=seen)


@pytest.fixture
def a_worker_runs(monkeypatch):
    """A running cluster as django-q2's stats report it (the worker's liveness, without a worker)."""
    clusters = [object()]
    monkeypatch.setattr(health, "running_clusters", lambda: clusters)
    monkeypatch.setattr(push_admin, "running_clusters", lambda: clusters)


# The words ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (datetime.timedelta(seconds=59), "0 min"),
        (datetime.timedelta(minutes=45), "45 min"),
        (datetime.timedelta(hours=3), "3 h"),
        (datetime.timedelta(hours=2, minutes=5, seconds=30), "2 h 5 min"),
        (datetime.timedelta(days=1, minutes=30), "1 day"),
        (datetime.timedelta(days=2, hours=3, minutes=59), "2 days 3 h"),
    ],
)
def test_duration_text(delta, text):
    assert duration_text(delta) == text


def test_before_its_time_it_says_how_long_until():
    with at(18, 50):
        assert next_push_text() == "Thursday 3 December, 21:00 Asia/Kathmandu (in 2 h 10 min)"


def test_just_past_its_time_a_push_is_due_now_for_the_grace_only():
    with at(21, 0):
        assert next_push_text() == "Thursday 3 December, 21:00 Asia/Kathmandu (due now)"
    with time_machine.travel(PUSH_TIME + OVERDUE_AFTER, tick=False):
        assert next_push_text().endswith("(due now)")
    with time_machine.travel(PUSH_TIME + OVERDUE_AFTER + datetime.timedelta(minutes=1), tick=False):
        assert next_push_text() == (
            "overdue since Thursday 3 December, 21:00 Asia/Kathmandu (6 min ago): no worker is running"
        )


def test_long_past_its_time_with_no_worker_it_says_since_when_and_why():
    with at(23, 5):
        assert next_push_text() == OVERDUE_2H5


def test_days_later_it_still_names_the_first_missed_push():
    with at(23, 30, day=5):
        assert next_push_text() == (
            "overdue since Thursday 3 December, 21:00 Asia/Kathmandu (2 days 2 h ago): no worker is running"
        )


def test_with_a_worker_that_has_not_started_it_it_says_so(a_worker_runs):
    with at(23, 5):
        assert next_push_text() == (
            "overdue since Thursday 3 December, 21:00 Asia/Kathmandu (2 h 5 min ago): "
            "a worker is running but has not started it"
        )


def test_once_the_worker_fired_it_the_next_push_is_tomorrow():
    with at(23, 5):
        # What django-q2 does when it fires the schedule: its next run moves on a day.
        Schedule.objects.filter(name="attendance_push.daily").update(next_run=PUSH_TIME + datetime.timedelta(days=1))
        assert next_push_text() == "Friday 4 December, 21:00 Asia/Kathmandu (in 21 h 55 min)"


def test_in_nepali_with_the_bikram_sambat_date():
    with at(23, 5), translation.override("ne"):
        text = next_push_text()
    assert text == (
        "बिहीबार 3 डिसम्वर (२०८३ मंसिर १७), 21:00 Asia/Kathmandu देखि बाँकी (2 घण्टा 5 मिनेट अघि): कुनै वर्कर चलिरहेको छैन"
    )


# Where people see it ----------------------------------------------------------------------------------------------


@pytest.fixture
def office(client, superuser):
    client.force_login(superuser)
    return client


def test_the_history_page_says_it_is_overdue_and_that_a_returning_worker_runs_it(office):
    with at(23, 5):
        content = office.get(CHANGELIST).content.decode()
    assert f"Next push: <strong>{OVERDUE_2H5}</strong>" in content
    assert (
        "No worker is running: the overdue push and the queued pushes wait until one starts, and run when it does."
        in content
    )
    assert "push will not run" not in content


def test_the_history_page_before_the_push_keeps_tonights_wording(office):
    worker_last_seen(18, 40)  # no worker for longer than the catch-up check allows
    with at(18, 50):
        content = office.get(CHANGELIST).content.decode()
    assert "(in 2 h 10 min)" in content
    assert "push will not run." in content
    assert "overdue" not in content


def test_the_status_command_prints_it_and_exits_non_zero():
    pushed(datetime.date(2026, 12, 2))
    out = StringIO()
    with at(22, 0), pytest.raises(CommandError) as error:
        call_command("attendance_push_status", stdout=out)
    assert str(error.value) == (
        f"The daily push is {OVERDUE_1H}. No worker is running, and none has run the schedules since Thursday "
        "3 December, 18:50 Asia/Kathmandu (3 h 10 min ago): the next push will not run until one starts "
        "(`python manage.py qcluster`)."
    )
    assert f"Next push: 2026-12-03 21:00 Asia/Kathmandu (2026-12-03 15:15 UTC)\n  {OVERDUE_1H}\n" in out.getvalue()


def test_the_status_command_within_the_grace_is_healthy():
    pushed(datetime.date(2026, 12, 2))
    worker_last_seen(21, 0)
    out = StringIO()
    with at(21, 3):
        call_command("attendance_push_status", stdout=out)
    assert "overdue" not in out.getvalue()
    assert out.getvalue().endswith("OK\n")


def test_the_health_url_is_503_and_says_since_when(client):
    pushed(datetime.date(2026, 12, 2))
    worker_last_seen(21, 0)
    with at(21, 3):
        healthy = client.get(HEALTH)
    assert healthy.status_code == 200
    assert json.loads(healthy.content)["overdue_since"] is None
    with at(22, 0):
        response = client.get(HEALTH)
    assert response.status_code == 503
    data = json.loads(response.content)
    assert data["overdue_since"] == "2026-12-03T15:15:00+00:00"
    # Yesterday's push is only 25 hours old: the overdue push (and the worker it lacks) make it unhealthy.
    assert data["problems"] == ["overdue", "no_worker"]
