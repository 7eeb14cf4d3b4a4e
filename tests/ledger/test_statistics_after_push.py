"""Fresh planner statistics after a big push or undo, so that the undo's confirmation page opens in seconds.

Right after a push of 588,000 records on PostgreSQL, the undo's dry run met statistics that still said
the ledger was empty and ran for minutes (bench/push_bench.py --ledger times it at scale).
"""

from __future__ import annotations

import pytest
from django.db import connection

from attendance_push import sql
from attendance_push.ledger.undo import undo
from attendance_push.models import PushedRecord, PushRun
from attendance_push.runs import run_push, run_undo, start_undo
from school.models import StudentAttendance
from tests.support.demo import DAY


def analyze_count(model) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s", [model._meta.db_table])
        return cursor.fetchone()[0]


def wait_for_stats(model, at_least: int) -> int:
    """Return the table's analyze count once the statistics collector reports `at_least` (it may lag)."""
    import time

    for _ in range(50):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
        count = analyze_count(model)
        if count >= at_least:
            return count
        time.sleep(0.1)
    return analyze_count(model)


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE runs on PostgreSQL only")


@pytest.mark.django_db(transaction=True)
def test_a_big_push_and_undo_refresh_the_statistics_of_what_they_wrote(
    postgres_only, superuser, make_students, monkeypatch
):
    make_students(5)
    monkeypatch.setattr(sql, "ANALYZE_AFTER_ROWS", 5)
    before = {model: analyze_count(model) for model in (PushedRecord, StudentAttendance)}
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.SUCCEEDED, run.error
    for model, count in before.items():
        assert wait_for_stats(model, count + 1) == count + 1, model
    undo_run = run_undo(run, run=start_undo(run))
    assert undo_run.status == PushRun.Status.SUCCEEDED, undo_run.error
    assert wait_for_stats(StudentAttendance, before[StudentAttendance] + 2) == before[StudentAttendance] + 2


@pytest.mark.django_db(transaction=True)
def test_a_small_push_leaves_the_statistics_to_autovacuum(postgres_only, superuser, make_students):
    make_students(5)
    before = analyze_count(PushedRecord)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.SUCCEEDED, run.error
    assert wait_for_stats(PushedRecord, before + 1) == before
    assert undo(run, dry_run=True).targets[0].deleted == 5
