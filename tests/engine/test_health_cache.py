"""The health URL is no lever and no leak: anyone gets codes and booleans from a check at most HEALTH_CACHE_SECONDS
old; the words, names and counts need a staff login (issue 20, point 4)."""

from __future__ import annotations

import datetime
import json
import re

import pytest
import time_machine
from django.core.cache import cache
from django.core.checks import run_checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Schedule

from attendance_push.health import COMPUTING_KEY
from attendance_push.models import Closure, PushRun
from attendance_push.runs import run_push
from attendance_push.schedule import ensure_schedule, push_instant
from tests.support.admin_pages import staff_with
from tests.support.demo import PINNED_NOW

pytestmark = pytest.mark.django_db

HEALTH = "/attendance-push/health/"
FRIDAY = datetime.date(2026, 11, 20)
# What the plugin's and the host's tables are called: a cached answer reads none of them.
DATA_TABLES = ("attendance_push_", "school_", "django_q_", "auth_")
CODE_OR_INSTANT = re.compile(r"[a-z_]+|\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d\+00:00)?")


@pytest.fixture(autouse=True)
def at_noon(superuser):
    cache.clear()
    with time_machine.travel(PINNED_NOW, tick=False) as clock:
        Schedule.objects.all().delete()
        ensure_schedule()
        yield clock
    cache.clear()


@pytest.fixture
def standing_day(make_students):
    """Friday pushed for 5 students, then closed by a "Snow day" closure: 5 false records still stand; and the
    push of Thursday, so that only Friday is wrong."""
    make_students(5)
    for day in (FRIDAY - datetime.timedelta(days=1), FRIDAY):
        with time_machine.travel(push_instant(day) + datetime.timedelta(seconds=20), tick=False):
            run_push(day, trigger=PushRun.Trigger.SCHEDULE)
    Closure.objects.create(name="Snow day", first_day=FRIDAY, last_day=FRIDAY)


def data_queries(queries) -> list[str]:
    return [query["sql"] for query in queries if any(table in query["sql"] for table in DATA_TABLES)]


def test_anyone_gets_codes_booleans_and_instants_without_names_or_counts(client, standing_day):
    response = client.get(HEALTH)

    assert response.status_code == 503
    data = json.loads(response.content)
    assert data == {
        "healthy": False,
        "problems": ["standing"],
        "checked_at": "2026-11-21T06:15:00+00:00",
        "last_pushed_day": "2026-11-20",
        "yesterday": {"day": "2026-11-20", "pushed": True, "undone": False, "closed": False},
        "next_push": "2026-11-21T15:15:00+00:00",
        "overdue_since": None,
        "worker": {"running": False},
    }
    # Every value is a code, a boolean or a day or instant: no name, no reason, no count.
    assert all(isinstance(leaf, bool) or leaf is None or CODE_OR_INSTANT.fullmatch(leaf) for leaf in leaves(data))
    assert "Snow day" not in response.content.decode()


def leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def test_a_closures_name_for_a_yesterday_closed_for_all_stays_with_staff(client):
    Closure.objects.create(name="Strike called by the union", first_day=FRIDAY, last_day=FRIDAY)
    start = push_instant(FRIDAY - datetime.timedelta(days=1)) + datetime.timedelta(seconds=20)
    PushRun.objects.create(
        date=FRIDAY - datetime.timedelta(days=1),
        trigger="schedule",
        status="succeeded",
        started_at=start,
        finished_at=PINNED_NOW,
    )
    public = client.get(HEALTH)
    assert public.status_code == 200
    assert json.loads(public.content)["yesterday"] == {
        "day": "2026-11-20",
        "pushed": False,
        "undone": False,
        "closed": True,
    }
    assert "Strike" not in public.content.decode()
    client.force_login(staff_with("view_pushrun"))
    staff = json.loads(client.get(HEALTH).content)
    assert staff["yesterday"]["reasons"] == ["Strike called by the union"]


def test_staff_who_read_the_history_get_the_words_names_and_counts(client, standing_day):
    client.force_login(staff_with("view_pushrun"))

    data = json.loads(client.get(HEALTH).content)

    assert data["problems"] == ["standing"]
    assert data["messages"] == [
        "2026-11-20 is closed (Snow day), but 5 records pushed before the closure still stand: push the day again "
        "to withdraw them."
    ]
    assert data["standing"] == [{"day": "2026-11-20", "reasons": ["Snow day"], "records": 5}]
    assert data["worker"] == {"running": False, "clusters": 0}
    assert (data["stuck_runs"], data["interrupted_now"]) == ([], 0)


@pytest.mark.parametrize(
    ("username", "staff", "permission"), [("no-permission", True, ()), ("not-staff", False, ("view_pushrun",))]
)
def test_a_login_without_staff_and_the_view_permission_gets_what_anyone_gets(
    client, standing_day, username, staff, permission
):
    user = staff_with(*permission, username=username)
    user.is_staff = staff
    user.save()
    client.force_login(user)
    data = json.loads(client.get(HEALTH).content)
    assert "messages" not in data and "standing" not in data
    assert "Snow day" not in json.dumps(data)


def test_a_second_call_within_the_period_reads_no_data_and_after_it_checks_again(client, standing_day, at_noon):
    first = client.get(HEALTH)
    assert json.loads(first.content)["problems"] == ["standing"]
    # Fixed meanwhile: pushed again, the false records are withdrawn.
    with time_machine.travel(PINNED_NOW + datetime.timedelta(seconds=1), tick=False):
        run_push(FRIDAY, trigger=PushRun.Trigger.ADMIN)

    at_noon.shift(datetime.timedelta(seconds=29))
    with CaptureQueriesContext(connection) as queries:
        second = client.get(HEALTH)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert data_queries(queries.captured_queries) == []

    at_noon.shift(datetime.timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        third = client.get(HEALTH)
    assert data_queries(queries.captured_queries)
    assert (third.status_code, json.loads(third.content)["problems"]) == (200, [])
    assert json.loads(third.content)["checked_at"] == "2026-11-21T06:15:30+00:00"


def test_staff_get_a_fresh_check_every_time(client, standing_day):
    assert client.get(HEALTH).status_code == 503
    run_push(FRIDAY, trigger=PushRun.Trigger.ADMIN)
    assert client.get(HEALTH).status_code == 503  # anyone: the cached answer
    client.force_login(staff_with("view_pushrun"))
    assert client.get(HEALTH).status_code == 200


def test_while_one_process_checks_again_the_others_answer_the_last_check(client, standing_day, at_noon):
    client.get(HEALTH)
    at_noon.shift(datetime.timedelta(seconds=45))
    # Another process claimed the check a second ago and has not finished it.
    cache.set(COMPUTING_KEY, (PINNED_NOW + datetime.timedelta(seconds=44)).timestamp(), 30)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(HEALTH)
    assert json.loads(response.content)["checked_at"] == "2026-11-21T06:15:00+00:00"
    assert data_queries(queries.captured_queries) == []
    # A claim older than the period is one that died: this call checks.
    at_noon.shift(datetime.timedelta(seconds=31))
    assert json.loads(client.get(HEALTH).content)["checked_at"] == "2026-11-21T06:16:16+00:00"


def test_the_number_of_queries_of_a_cached_answer_does_not_grow_with_the_data(client, make_students):
    client.get(HEALTH)
    with CaptureQueriesContext(connection) as few:
        client.get(HEALTH)
    make_students(300)
    for day in range(1, 15):
        PushRun.objects.create(date=datetime.date(2026, 11, day), trigger="schedule", status="failed")
    with CaptureQueriesContext(connection) as many:
        client.get(HEALTH)
    # The cache's own read (on SQLite inside a short wait for the write lock: three PRAGMAs), nothing else.
    assert len(many.captured_queries) == len(few.captured_queries) <= 4
    assert data_queries(many.captured_queries) == []


def test_the_period_is_a_setting(client, settings, standing_day, at_noon):
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "HEALTH_CACHE_SECONDS": 5}
    client.get(HEALTH)
    at_noon.shift(datetime.timedelta(seconds=5))
    with CaptureQueriesContext(connection) as queries:
        client.get(HEALTH)
    assert data_queries(queries.captured_queries)


@pytest.mark.parametrize("value", [0, -1, 46, 3600, 2.5, "30", True, None])
def test_a_period_that_is_no_whole_number_of_seconds_from_1_to_45_is_refused(settings, value):
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "HEALTH_CACHE_SECONDS": value}
    errors = [message for message in run_checks() if message.id == "attendance_push.E025"]
    assert len(errors) == 1
    assert "HEALTH_CACHE_SECONDS" in errors[0].msg and errors[0].hint


@pytest.mark.parametrize("value", [1, 30, 45])
def test_a_good_period_passes(settings, value):
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "HEALTH_CACHE_SECONDS": value}
    assert not [message for message in run_checks() if message.id == "attendance_push.E025"]
