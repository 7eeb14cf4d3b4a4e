"""One check decides whether the next push will happen and succeed: the health URL answers 503 exactly where the
history warns, and `attendance_push_status` exits 1 (issue 20, point 3)."""

from __future__ import annotations

import datetime
import json
from io import StringIO

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import InternalError
from django_q.models import Schedule

from attendance_push import health as health_module
from attendance_push.health import check_health
from attendance_push.models import PushRun
from attendance_push.results import HealthProblem
from attendance_push.schedule import ensure_schedule, push_instant
from tests.support.admin_pages import CHANGELIST, staff_with
from tests.support.demo import PINNED_NOW

pytestmark = pytest.mark.django_db

HEALTH = "/attendance-push/health/"
CATCH_UP = "attendance_push.catch_up"

# The history's warnings, one per problem that stops the next push, by the class of their box.
WARNINGS = {
    HealthProblem.NO_ACTOR: "errornote attendance-push-no-actor",
    HealthProblem.NO_WORKER: "errornote attendance-push-no-worker",
    HealthProblem.NO_SCHEDULE: "errornote attendance-push-no-schedule",
    HealthProblem.STUCK: "errornote attendance-push-stuck",
}


@pytest.fixture(autouse=True)
def at_noon():
    """Noon on the 21st; yesterday and the day before pushed; the schedules registered as a worker left them."""
    with time_machine.travel(PINNED_NOW, tick=False):
        Schedule.objects.all().delete()
        ensure_schedule()
        for day in (datetime.date(2026, 11, 19), datetime.date(2026, 11, 20)):
            start = push_instant(day) + datetime.timedelta(seconds=20)
            PushRun.objects.create(
                date=day, trigger="schedule", status="succeeded", started_at=start, finished_at=start
            )
        yield


def health(client) -> tuple[int, list[str]]:
    """Return the status and the codes of a fresh check, as anyone gets them (the cache: test_health_cache)."""
    cache.clear()
    response = client.logout() or client.get(HEALTH)
    return response.status_code, json.loads(response.content)["problems"]


def warnings(client, user) -> set[HealthProblem]:
    client.force_login(user)
    content = client.get(CHANGELIST).content.decode()
    return {problem for problem, box in WARNINGS.items() if f'class="{box}"' in content}


def no_worker_for(minutes: int) -> None:
    """Leave the catch-up check as a worker that stopped `minutes` minutes (plus its 5-minute interval) ago did."""
    seen = PINNED_NOW - datetime.timedelta(minutes=minutes)
    Schedule.objects.filter(name=CATCH_UP).update(next_run=seen)


def status_command() -> str:
    out = StringIO()
    try:
        call_command("attendance_push_status", stdout=out)
    except CommandError as error:
        return f"exit 1: {error}"
    return "exit 0"


def test_no_superuser_and_no_worker_is_503_as_the_history_warns(client):
    # The case: nobody to record as the creator, no worker. The history warned that the next push would
    # fail; the health URL said 200 "healthy".
    clerk = staff_with("view_pushrun")
    no_worker_for(20)

    status, problems = health(client)
    history = client.force_login(clerk) or client.get(CHANGELIST).content.decode()

    assert (status, problems) == (503, ["no_worker", "no_actor"])
    assert "The next push (Saturday 21 November 2026) will fail: No active superuser" in history
    assert "No worker is running: queued pushes wait until one starts, and tonight&#x27;s push will not run." in (
        history
    )
    result = status_command()
    assert result.startswith(
        "exit 1: No worker is running, and none has run the schedules since Saturday 21 "
        "November, 11:40 Asia/Kathmandu (20 min ago)"
    )
    assert "The next push (2026-11-21) will fail: No active superuser to record as the creator" in result


@pytest.mark.parametrize("problem", [HealthProblem.NO_ACTOR, HealthProblem.NO_WORKER, HealthProblem.NO_SCHEDULE])
def test_the_history_warns_exactly_where_health_is_503(client, superuser, problem):
    clerk = staff_with("view_pushrun")
    assert health(client) == (200, [])
    assert warnings(client, clerk) == set()
    assert status_command() == "exit 0"

    if problem == HealthProblem.NO_ACTOR:
        superuser.delete()
    elif problem == HealthProblem.NO_WORKER:
        no_worker_for(10)
    else:
        Schedule.objects.filter(name="attendance_push.daily").delete()

    assert health(client) == (503, [problem])
    assert warnings(client, clerk) == {problem}
    assert status_command().startswith("exit 1: ")


def test_a_worker_gone_for_less_than_the_schedules_allow_is_no_warning_yet(client, superuser):
    # The catch-up check is due every 5 minutes: 4 minutes past it, a worker restarting is not yet a missing one.
    no_worker_for(4)
    assert health(client) == (200, [])
    content = client.force_login(superuser) or client.get(CHANGELIST).content.decode()
    assert "No worker is running at this moment: queued pushes wait until one starts." in content
    assert 'class="errornote attendance-push-no-worker"' not in content
    no_worker_for(6)
    assert health(client) == (503, ["no_worker"])


def test_a_closed_next_day_needs_no_creator(client, settings):
    # Saturday the 21st is off: the next push creates nothing, records no creator, and will not fail.
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "WEEKLY_OFF": ["SAT"]}
    assert health(client) == (200, [])


def test_a_stuck_run_that_cannot_be_marked_is_503_and_warned(client, superuser, monkeypatch):
    # The process of a run is gone, and the database refuses to mark it (a read-only replica, say).
    run = PushRun.objects.create(
        date=datetime.date(2026, 11, 18), trigger="admin", status="running", started_at=PINNED_NOW
    )

    def refused(now=None):
        raise InternalError("cannot execute UPDATE in a read-only transaction")

    monkeypatch.setattr(health_module, "interrupt_dead_runs", refused)
    with time_machine.travel(PINNED_NOW + datetime.timedelta(minutes=1), tick=False):
        assert health(client) == (503, ["stuck"])
        assert warnings(client, superuser) == {HealthProblem.STUCK}
        content = client.get(CHANGELIST).content.decode()
        assert f"Run {run.pk} is recorded as queued or running, but its process is gone" in content
        assert status_command().startswith(f"exit 1: Run {run.pk} is recorded as queued or running")
    run.refresh_from_db()
    assert run.status == "running"


def test_the_check_is_a_typed_value_of_codes(superuser):
    no_worker_for(30)
    Schedule.objects.filter(name="attendance_push.daily").delete()
    state = check_health()
    assert state.problems == (HealthProblem.NO_SCHEDULE, HealthProblem.NO_WORKER)
    assert all(isinstance(problem, HealthProblem) for problem in state.problems)
    assert state.healthy is False
    assert state.worker_missing_since == PINNED_NOW - datetime.timedelta(minutes=30)


def test_the_check_marks_the_runs_that_will_never_finish_and_says_how_many(superuser):
    dead = PushRun.objects.create(
        date=datetime.date(2026, 11, 18), trigger="admin", status="running", started_at=PINNED_NOW
    )
    with time_machine.travel(PINNED_NOW + datetime.timedelta(minutes=1), tick=False):
        state = check_health()
    assert (state.problems, state.stuck, state.interrupted) == ((), (), 1)
    dead.refresh_from_db()
    assert dead.status == "interrupted"
