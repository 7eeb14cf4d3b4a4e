"""Pruning the ledger and old runs: KEEP_LEDGER_DAYS and KEEP_RUNS_DAYS, their checks, the worker's daily prune,
and a prune that meets an undo."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from attendance_push.checks import check_settings
from attendance_push.exceptions import PushError
from attendance_push.ledger.prune import prune
from attendance_push.ledger.undo import undo
from attendance_push.models import PushedRecord, PushRun
from attendance_push.runs import missed_days, run_undo
from attendance_push.schedule import push_instant
from school.models import StudentAttendance
from tests.support.config import push_settings
from tests.support.demo import DAY, STUDENTS, schedule_next_run
from tests.support.runs import pushed_run

pytestmark = pytest.mark.django_db

PRUNE_NOW = datetime.datetime(2026, 12, 30, 6, 0, tzinfo=datetime.UTC)


def test_pruning_keeps_the_ledger_up_to_the_boundary(settings, superuser, make_students):
    settings.ATTENDANCE_PUSH = push_settings(KEEP_LEDGER_DAYS=10)
    make_students(2)
    now = PRUNE_NOW
    with time_machine.travel(now - datetime.timedelta(days=10), tick=False):
        at_boundary = pushed_run(DAY)
    with time_machine.travel(now - datetime.timedelta(days=10, seconds=1), tick=False):
        older = pushed_run(DAY - datetime.timedelta(days=1))

    dry = prune(dry_run=True, now=now)
    assert (dry.ledger_rows, dry.ledgers, dry.runs) == (2, 1, 0)
    assert PushedRecord.objects.count() == 4

    result = prune(now=now)

    assert (result.ledger_rows, result.ledgers, result.runs) == (2, 1, 0)
    assert set(PushedRecord.objects.values_list("run", flat=True)) == {at_boundary.pk}
    older.refresh_from_db()
    assert older.ledger_pruned_at == now
    with pytest.raises(PushError, match=rf"The ledger of run {older.pk} was pruned"):
        undo(older)
    assert prune(now=now).ledgers == 0


def test_pruning_runs_by_keep_runs_days(settings, superuser, make_students, capsys):
    settings.ATTENDANCE_PUSH = push_settings(KEEP_RUNS_DAYS=30, KEEP_LEDGER_DAYS=None)
    make_students(2)
    now = PRUNE_NOW
    with time_machine.travel(now - datetime.timedelta(days=31), tick=False):
        old = pushed_run(DAY - datetime.timedelta(days=40))
        old_undo = run_undo(old)
    with time_machine.travel(now - datetime.timedelta(days=29), tick=False):
        recent = pushed_run(DAY)

    with time_machine.travel(now, tick=False):
        call_command("prune_push_history", "--dry-run")
    assert "Would delete 2 ledger rows (0 runs' ledgers, KEEP_LEDGER_DAYS=None) and 2 runs" in capsys.readouterr().out
    assert PushRun.objects.count() == 3

    with time_machine.travel(now, tick=False):
        call_command("prune_push_history")
    assert "and 2 runs" in capsys.readouterr().out
    assert list(PushRun.objects.values_list("pk", flat=True)) == [recent.pk]
    assert set(PushedRecord.objects.values_list("run", flat=True)) == {recent.pk}
    assert not PushRun.objects.filter(pk=old_undo.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", ["KEEP_LEDGER_DAYS", "KEEP_RUNS_DAYS"])
def test_a_prune_waits_for_an_undo_of_a_run_it_prunes(settings, superuser, make_students, monkeypatch, key):
    import threading

    from django.db import connections

    import attendance_push.ledger.undo as ledger_module

    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time: a prune cannot run inside an undo")
    other = "KEEP_RUNS_DAYS" if key == "KEEP_LEDGER_DAYS" else "KEEP_LEDGER_DAYS"
    settings.ATTENDANCE_PUSH = push_settings(**{key: 10, other: None})
    make_students(3)
    run = pushed_run()
    pushed_run(DAY + datetime.timedelta(days=1))  # the newest run, which a prune by KEEP_RUNS_DAYS keeps
    later = timezone.now() + datetime.timedelta(days=11)
    inside, go = threading.Event(), threading.Event()
    real_undo_target = ledger_module._undo_target

    def paused_undo_target(*args, **kwargs):
        # The undo has checked the ledger is there and holds the day's lock: let the prune try now.
        inside.set()
        go.wait(timeout=30)
        return real_undo_target(*args, **kwargs)

    monkeypatch.setattr(ledger_module, "_undo_target", paused_undo_target)
    outcome = {}

    def in_thread(name, work):
        try:
            outcome[name] = work()
        except Exception as exc:  # reported by the assertions below
            outcome[name] = exc
        finally:
            connections.close_all()

    undoing = threading.Thread(target=in_thread, args=("undo", lambda: undo(run)))
    undoing.start()
    assert inside.wait(timeout=30)
    pruning = threading.Thread(target=in_thread, args=("prune", lambda: prune(now=later)))
    pruning.start()
    pruning.join(timeout=1)
    go.set()
    undoing.join(timeout=30)
    pruning.join(timeout=30)

    # The undo found the whole ledger it had checked: every record it created, deleted.
    assert outcome["undo"].counts()[STUDENTS] == {"deleted": 3, "cleared": 0, "kept": 0}, outcome
    assert not StudentAttendance.objects.filter(date=DAY).exists()
    # The prune went on after the undo committed.
    assert not isinstance(outcome["prune"], Exception), outcome
    assert not PushedRecord.objects.filter(run=run.pk).exists()


def test_an_undo_of_a_run_pruned_while_it_waited_is_refused_with_the_reason(superuser, make_students):
    make_students(2)
    run = pushed_run()
    # The run as the undo read it before it waited for the day's lock; a prune of old runs then deleted it.
    PushRun.objects.filter(pk=run.pk).delete()
    with pytest.raises(PushError, match=f"Run {run.pk} no longer exists: it was pruned from the history"):
        undo(run)
    assert StudentAttendance.objects.filter(date=DAY).count() == 2


def test_pruning_runs_keeps_the_newest_so_catch_up_still_sees_the_installation(settings, superuser, make_students):
    settings.ATTENDANCE_PUSH = push_settings(KEEP_RUNS_DAYS=5, CATCH_UP_DAYS=3)
    make_students(2)
    with time_machine.travel(push_instant(DAY - datetime.timedelta(days=1)), tick=False):
        older = pushed_run(DAY - datetime.timedelta(days=1))
    with time_machine.travel(push_instant(DAY), tick=False):
        newest = pushed_run(DAY)
    # The worker was down for a week; back, its daily prune may come before its first catch-up.
    now = push_instant(DAY + datetime.timedelta(days=8)) + datetime.timedelta(hours=1)
    schedule_next_run(now)
    with time_machine.travel(now, tick=False):
        missed = missed_days(now)
        assert missed == [DAY + datetime.timedelta(days=n) for n in (6, 7, 8)]

        result = prune(now=now)

        assert result.runs == 1
        assert list(PushRun.objects.values_list("pk", flat=True)) == [newest.pk]
        assert not PushRun.objects.filter(pk=older.pk).exists()
        # Without a run left, catch-up would take the installation for a new one and push nothing.
        assert missed_days(now) == missed


@pytest.mark.parametrize(("keep", "catch_up"), [(1, 0), (3, 3), (2, 5)])
def test_keep_runs_days_must_outlast_catch_up_and_yesterday(settings, keep, catch_up):
    settings.ATTENDANCE_PUSH = push_settings(KEEP_RUNS_DAYS=keep, CATCH_UP_DAYS=catch_up)
    (error,) = check_settings()
    assert error.id == "attendance_push.E062"
    assert f"KEEP_RUNS_DAYS'] ({keep})" in error.msg and f"{max(catch_up, 1) + 1} or more" in error.msg
    assert error.hint
    settings.ATTENDANCE_PUSH = push_settings(KEEP_RUNS_DAYS=max(catch_up, 1) + 1)
    assert check_settings() == []


@pytest.mark.parametrize("key", ["KEEP_LEDGER_DAYS", "KEEP_RUNS_DAYS"])
@pytest.mark.parametrize("value", [0, -3, "400", True, 1.5])
def test_retention_settings_are_checked(settings, key, value):
    settings.ATTENDANCE_PUSH = push_settings(**{key: value})
    ids = [error.id for error in check_settings()]
    assert ids == ["attendance_push.E060" if key == "KEEP_LEDGER_DAYS" else "attendance_push.E061"]


def test_none_and_whole_days_are_valid_retention(settings):
    settings.ATTENDANCE_PUSH = push_settings(KEEP_LEDGER_DAYS=None, KEEP_RUNS_DAYS=30)
    assert check_settings() == []


def test_the_worker_prunes_once_a_day(settings, superuser, make_students):
    from django.utils.module_loading import import_string
    from django_q.models import Schedule

    from attendance_push.schedule import PRUNE_TASK, ensure_schedule

    Schedule.objects.all().delete()
    ensure_schedule()
    ensure_schedule()
    (prune_schedule,) = Schedule.objects.filter(name="attendance_push.prune")
    assert (prune_schedule.func, prune_schedule.schedule_type) == (PRUNE_TASK, Schedule.DAILY)
    # What the worker calls: the prune, with the settings.
    settings.ATTENDANCE_PUSH = push_settings(KEEP_LEDGER_DAYS=1)
    make_students(2)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=2), tick=False):
        pushed_run(DAY - datetime.timedelta(days=2))
    assert import_string(prune_schedule.func)() == {"ledger_rows": 2, "ledgers": 1, "runs": 0}
    assert not PushedRecord.objects.exists()
