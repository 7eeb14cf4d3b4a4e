"""`attendance-push/health/`: the push's health for uptime monitors, public and without secrets."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.urls import reverse
from django_q.models import Schedule

from attendance_push.models import PushRun
from attendance_push.schedule import ensure_schedule
from tests.support.demo import KTM, PINNED_NOW
from tests.support.runs import pushed

pytestmark = pytest.mark.django_db

HEALTH = "/attendance-push/health/"


@pytest.fixture(autouse=True)
def at_noon(superuser):
    # A superuser to record as the creator: without one the next push would fail (a problem of its own).
    with time_machine.travel(PINNED_NOW, tick=False):
        Schedule.objects.all().delete()
        ensure_schedule()
        yield


def test_the_url_is_the_documented_one():
    assert reverse("attendance_push:health") == HEALTH


def test_healthy_is_200_with_the_last_pushed_day_the_next_push_and_the_worker(client):
    pushed(datetime.date(2026, 11, 19))
    pushed(datetime.date(2026, 11, 20))
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert json.loads(response.content) == {
        "healthy": True,
        "problems": [],
        "checked_at": "2026-11-21T06:15:00+00:00",
        "last_pushed_day": "2026-11-20",
        "yesterday": {"day": "2026-11-20", "pushed": True, "undone": False, "closed": False},
        "next_push": "2026-11-21T15:15:00+00:00",
        "overdue_since": None,
        "worker": {"running": False},
    }


def test_a_missing_push_is_503_and_says_which(client):
    pushed(datetime.date(2026, 11, 19))
    response = client.get(HEALTH)
    assert response.status_code == 503
    data = json.loads(response.content)
    assert data["healthy"] is False
    assert data["problems"] == ["stale", "yesterday_missed"]
    assert data["last_pushed_day"] == "2026-11-19"


def test_a_yesterday_closed_for_every_target_and_never_pushed_is_healthy_as_catch_up_sees_it(client):
    # The worker was down across the closed day: catch-up has nothing to push for it, nor does the monitor.
    from attendance_push.models import Closure
    from attendance_push.runs import missed_days

    pushed(datetime.date(2026, 11, 19))
    PushRun.objects.filter(date=datetime.date(2026, 11, 19)).update(finished_at=PINNED_NOW)
    Closure.objects.create(name="Strike", first_day=datetime.date(2026, 11, 20), last_day=datetime.date(2026, 11, 20))
    assert datetime.date(2026, 11, 20) not in missed_days(PINNED_NOW)

    response = client.get(HEALTH)

    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["problems"] == []
    assert data["yesterday"] == {"day": "2026-11-20", "pushed": False, "undone": False, "closed": True}


def test_a_yesterday_closed_for_some_targets_only_still_needs_its_push(client):
    from attendance_push.models import Closure

    pushed(datetime.date(2026, 11, 19))
    PushRun.objects.filter(date=datetime.date(2026, 11, 19)).update(finished_at=PINNED_NOW)
    Closure.objects.create(
        name="Strike",
        first_day=datetime.date(2026, 11, 20),
        last_day=datetime.date(2026, 11, 20),
        targets=["school.StudentAttendance"],
    )

    response = client.get(HEALTH)

    assert response.status_code == 503
    assert json.loads(response.content)["problems"] == ["yesterday_missed"]


def test_no_push_ever_is_503(client):
    response = client.get(HEALTH)
    assert response.status_code == 503
    assert "never_pushed" in json.loads(response.content)["problems"]


def test_a_rerun_of_an_old_day_is_not_the_last_pushed_day(client):
    pushed(datetime.date(2026, 11, 20))
    old = pushed(datetime.date(2026, 11, 2))
    PushRun.objects.filter(pk=old.pk).update(finished_at=datetime.datetime(2026, 11, 21, 11, 0, tzinfo=KTM))
    assert json.loads(client.get(HEALTH).content)["last_pushed_day"] == "2026-11-20"


def test_it_needs_no_login_shows_no_secrets_and_only_reads(client, settings):
    pushed(datetime.date(2026, 11, 20))
    PushRun.objects.create(
        date=datetime.date(2026, 11, 18),
        trigger="schedule",
        status="failed",
        error="OperationalError: password authentication failed for user app",
        traceback="File /srv/app/settings.py",
    )
    body = client.get(HEALTH).content.decode()
    for secret in (settings.SECRET_KEY, "password", "/srv/app", "pid"):
        assert secret not in body
    assert client.post(HEALTH).status_code == 405
    assert client.head(HEALTH).status_code == 200
