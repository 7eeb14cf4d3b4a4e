"""A run whose process is gone does not stay "running" for ever: reading the history, the health URL or the history's
status JSON marks it interrupted, by the liveness rules catch-up uses, within a minute and with no worker
(issue 20, point 6)."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import time

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance_push import liveness
from attendance_push.models import PushRun
from attendance_push.text import STOPPED
from tests.support.admin_pages import CHANGELIST, STATUS
from tests.support.processes import process_env, shell, wait_for

HEALTH = "/attendance-push/health/"
DAY = datetime.date(2026, 11, 20)
READERS = ["health", "history", "status"]


@pytest.fixture(autouse=True)
def fresh_cache():
    # The database cache outlives a transactional test's flush: each test starts with none of its answers.
    cache.clear()
    yield
    cache.clear()


def grace() -> datetime.timedelta:
    """Return how long a running run without its process may look alive (its lock, or its heartbeat)."""
    return liveness.LOCK_GRACE if liveness.lock_tells() else liveness.HEARTBEAT_STALE


def read(client, reader: str, run: PushRun):
    """Read what `reader` shows, as anyone (the health URL) or as the superuser (the history and its JSON)."""
    if reader == "health":
        client.cookies.clear()
        return client.get(HEALTH)
    if reader == "history":
        return client.get(CHANGELIST)
    return client.get(STATUS, {"ids": str(run.pk)})


def cut_off_run_now() -> PushRun:
    """Record a "Run now" whose request gunicorn killed: running, with no process, no heartbeat and no lock."""
    now = timezone.now()
    return PushRun.objects.create(date=DAY, trigger="admin", status="running", started_at=now, created_at=now)


@pytest.mark.django_db
@pytest.mark.parametrize("reader", READERS)
def test_reading_marks_a_run_whose_process_is_gone_interrupted(client, superuser, reader):
    client.force_login(superuser)
    run = cut_off_run_now()
    with time_machine.travel(run.started_at + grace() + datetime.timedelta(seconds=1), tick=False):
        response = read(client, reader, run)
    run.refresh_from_db()
    assert (run.status, run.error) == ("interrupted", STOPPED)
    if reader == "status":
        assert json.loads(response.content)["runs"][str(run.pk)]["status"] == "interrupted"
        assert json.loads(response.content)["runs"][str(run.pk)]["active"] is False
    if reader == "history":
        assert "attendance-push-badge--interrupted" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("reader", READERS)
def test_a_run_within_its_grace_is_left_running(client, superuser, reader):
    client.force_login(superuser)
    run = cut_off_run_now()
    with time_machine.travel(run.started_at + grace() - datetime.timedelta(seconds=2), tick=False):
        read(client, reader, run)
    run.refresh_from_db()
    assert run.status == "running"


@pytest.mark.django_db
@pytest.mark.parametrize("reader", ["health", "status"])
def test_within_a_minute_though_the_cheap_readers_check_once_per_period(client, superuser, reader):
    # The page (or a monitor) reads every 5 seconds from the moment of the kill; the health URL's answer is cached
    # and the status JSON checks liveness once per HEALTH_CACHE_SECONDS, so most reads only look.
    client.force_login(superuser)
    run = cut_off_run_now()
    marked_after = None
    for seconds in range(0, 65, 5):
        with time_machine.travel(run.started_at + datetime.timedelta(seconds=seconds), tick=False):
            read(client, reader, run)
        run.refresh_from_db()
        if run.status == "interrupted":
            marked_after = seconds
            break
    assert marked_after is not None and marked_after <= 60
    # Not before its grace, and not at the first read past it when the last check was less than a period ago.
    assert marked_after >= grace().total_seconds()


@pytest.mark.django_db
def test_the_status_json_of_a_history_watching_no_live_run_does_not_check(client, superuser):
    # Only a page that watches a queued or running run pays for a liveness check (the broker, the locks, the cache).
    client.force_login(superuser)
    done = PushRun.objects.create(date=DAY, trigger="schedule", status="succeeded")
    with CaptureQueriesContext(connection) as queries:
        client.get(STATUS, {"ids": str(done.pk)})
    assert not [
        query for query in queries.captured_queries if re.search("django_cache|django_q_ormq|pg_locks", query["sql"])
    ]
    with CaptureQueriesContext(connection) as queries:
        client.get(STATUS, {"ids": str(cut_off_run_now().pk)})
    assert [query for query in queries.captured_queries if "django_cache" in query["sql"]]


# A real process, killed ----------------------------------------------------------------------------------------

PUSH = "from django.core.management import call_command; call_command('push_attendance', '--date', '{day}')"


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reader", READERS)
def test_a_push_whose_process_was_killed_is_marked_by_reading(client, superuser, make_students, tmp_path, reader):
    make_students(3)
    day = timezone.localdate() - datetime.timedelta(days=1)
    # tests/holding.py holds the push inside its transaction, records written, until the test kills it.
    process = shell(PUSH.format(day=day), env=process_env(ATTENDANCE_PUSH_TEST_HOLD=str(tmp_path)))
    try:
        wait_for(lambda: (tmp_path / "held").exists() or process.poll() is not None, timeout=120, what="the push")
        assert process.poll() is None, process.communicate()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    run = PushRun.objects.get()
    assert run.status == "running"
    client.force_login(superuser)

    with time_machine.travel(timezone.now() + grace() + datetime.timedelta(seconds=5), tick=False):
        read(client, reader, run)

    run.refresh_from_db()
    assert (run.status, run.error) == ("interrupted", STOPPED)
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_live_push_is_left_running_and_reading_does_not_wait_for_it(client, superuser, make_students, tmp_path):
    # Past its grace a live push looks silent on SQLite (it holds the write lock, so its heartbeat cannot be
    # written); on PostgreSQL its day's lock shows it alive. Either way the pages answer at once and leave it be.
    make_students(3)
    day = timezone.localdate() - datetime.timedelta(days=1)
    client.force_login(superuser)  # a write: before the push holds SQLite's write lock
    process = shell(PUSH.format(day=day), env=process_env(ATTENDANCE_PUSH_TEST_HOLD=str(tmp_path)))
    try:
        wait_for(lambda: (tmp_path / "held").exists() or process.poll() is not None, timeout=120, what="the push")
        assert process.poll() is None, process.communicate()
        run = PushRun.objects.get()
        with time_machine.travel(timezone.now() + grace() + datetime.timedelta(seconds=5), tick=True):
            started = time.monotonic()
            history = client.get(CHANGELIST)
            status = client.get(STATUS, {"ids": str(run.pk)})
            client.cookies.clear()
            health = client.get(HEALTH)
            elapsed = time.monotonic() - started
        assert history.status_code == status.status_code == 200
        assert "stuck" not in json.loads(health.content)["problems"]
        assert elapsed < 10, elapsed
        run.refresh_from_db()
        assert run.status == "running"
    finally:
        (tmp_path / "release").touch()
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    run.refresh_from_db()
    assert run.status == "succeeded"
