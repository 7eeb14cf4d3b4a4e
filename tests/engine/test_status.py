"""`attendance_push_status`: a report for humans and an exit status for monitors."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from attendance_push.models import PushRun
from attendance_push.schedule import ensure_schedule, push_instant
from tests.support.demo import KTM, PINNED_NOW

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def pushed(day: datetime.date, *, late: datetime.timedelta = datetime.timedelta(seconds=20)) -> PushRun:
    start = push_instant(day) + late
    with time_machine.travel(start, tick=False):
        return PushRun.objects.create(
            date=day,
            trigger="schedule",
            status="succeeded",
            started_at=start,
            finished_at=start + datetime.timedelta(seconds=2),
            created=12,
        )


def status(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(PINNED_NOW, tick=False):
        call_command("attendance_push_status", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def schedule(superuser):
    # With a superuser to record as the creator: without one the next push would fail (a problem of its own).
    Schedule.objects.all().delete()
    with time_machine.travel(PINNED_NOW, tick=False):
        ensure_schedule()


def test_healthy_prints_the_report_and_exits_zero():
    pushed(datetime.date(2026, 11, 19))
    pushed(datetime.date(2026, 11, 20))

    out = status()

    assert "2026-11-20  succeeded   schedule 2026-11-20 21:00  12 created, 0 filled, 0 skipped" in out
    assert "Next push: 2026-11-21 21:00 Asia/Kathmandu (2026-11-21 15:15 UTC)" in out
    assert "Workers: none running (start one with `python manage.py qcluster`)." in out
    assert "Yesterday (2026-11-20): pushed" in out
    assert out.rstrip().endswith("OK")


def test_a_missing_yesterday_exits_non_zero():
    pushed(datetime.date(2026, 11, 19))
    with pytest.raises(CommandError, match=r"Yesterday \(2026-11-20\) has not been pushed since its push time\."):
        status()


def test_a_yesterday_closed_for_every_target_needs_no_push_and_exits_zero():
    from attendance_push.models import Closure

    pushed(datetime.date(2026, 11, 19), late=datetime.timedelta(hours=14))
    Closure.objects.create(name="Strike", first_day=datetime.date(2026, 11, 20), last_day=datetime.date(2026, 11, 20))

    out = status()

    assert "Yesterday (2026-11-20): closed (Strike), nothing to push" in out
    assert out.rstrip().endswith("OK")


def test_a_last_success_older_than_26_hours_exits_non_zero():
    pushed(datetime.date(2026, 11, 20))
    # 23:30 on the 21st: yesterday was pushed, but 26.5 hours ago, and today's 21:00 push never came.
    out = StringIO()
    with (
        time_machine.travel(datetime.datetime(2026, 11, 21, 23, 30, tzinfo=KTM), tick=False),
        pytest.raises(CommandError) as error,
    ):
        call_command("attendance_push_status", stdout=out)
    assert str(error.value) == (
        "The last successful push finished 1\xa0day, 2\xa0hours ago (more than 26 hours). The daily push is overdue "
        "since Saturday 21 November, 21:00 Asia/Kathmandu (2 h 30 min ago): no worker is running. No worker is "
        "running, and none has run the schedules since Saturday 21 November, 12:00 Asia/Kathmandu (11 h 30 min "
        "ago): the next push will not run until one starts (`python manage.py qcluster`)."
    )
    assert "Yesterday (2026-11-20): pushed" in out.getvalue()
    assert (
        "Next push: 2026-11-21 21:00 Asia/Kathmandu (2026-11-21 15:15 UTC)\n"
        "  overdue since Saturday 21 November, 21:00 Asia/Kathmandu (2 h 30 min ago): no worker is running\n"
    ) in out.getvalue()


def test_no_push_ever_exits_non_zero():
    with pytest.raises(CommandError, match="No push has ever succeeded"):
        status()


def test_an_unregistered_schedule_says_how_to_register_it():
    Schedule.objects.all().delete()
    pushed(datetime.date(2026, 11, 20))
    out = StringIO()
    with time_machine.travel(PINNED_NOW, tick=False), pytest.raises(CommandError, match="is not scheduled"):
        call_command("attendance_push_status", stdout=out)
    assert "Next push: not scheduled (run `python manage.py migrate`)." in out.getvalue()


def test_the_list_shows_errors_and_respects_runs_and_verbosity():
    pushed(datetime.date(2026, 11, 20))
    PushRun.objects.create(date=datetime.date(2026, 11, 18), trigger="command", status="failed", error="Boom: x")
    out = status("--runs", "1")
    assert "Last 1 runs" in out and "Boom: x" in out and "2026-11-20  succeeded" not in out
    quiet = StringIO()
    with time_machine.travel(PINNED_NOW, tick=False):
        call_command("attendance_push_status", verbosity=0, stdout=quiet)
    assert quiet.getvalue() == ""


def test_last_successful_push_is_the_latest_day_pushed_not_the_last_run_to_finish():
    pushed(datetime.date(2026, 11, 20))
    # A rerun of an older day, finishing later, is not the last successful push.
    pushed(datetime.date(2026, 11, 10), late=datetime.timedelta(days=10, hours=14))
    out = status()
    assert "Last successful push: 2026-11-20, finished 2026-11-20 21:00" in out


def test_errors_are_printed_whole():
    pushed(datetime.date(2026, 11, 20))
    error = "OperationalError: " + "the database server closed the connection unexpectedly; " * 6
    PushRun.objects.create(date=datetime.date(2026, 11, 18), trigger="command", status="failed", error=error.strip())
    out = status()
    assert f"      {error.strip()}\n" in out
