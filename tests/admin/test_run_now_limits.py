"""Undos and withdrawals count against the rows one web request may change ("Run now").

A "Run now" killed by the web server's timeout leaves a run half done; an undo deleting as many
records as a push writes, or a push that withdraws an earlier push's records, must be queued too.
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from attendance_push.admin import confirmation
from attendance_push.admin.confirmation import (
    RUN_NOW_MAX_ROWS,
    run_now_refusal,
    undo_confirmation,
    undo_run_now_refusal,
)
from attendance_push.models import PushRun
from attendance_push.results import PushResult, TargetResult, TargetUndo, UndoResult
from attendance_push.runs import run_push
from school.models import StudentAttendance
from tests.support.demo import DAY

STUDENTS = "school.StudentAttendance"
FRI = datetime.date(2026, 11, 20)


def undo_preview(deleted: int, cleared: int = 0) -> UndoResult:
    return UndoResult(7, FRI, (TargetUndo(STUDENTS, deleted, cleared, 0),), dry_run=True)


@pytest.mark.parametrize(
    ("mode", "rows", "refused"),
    [
        ("sql", RUN_NOW_MAX_ROWS["sql"], False),
        ("sql", RUN_NOW_MAX_ROWS["sql"] + 1, True),
        ("save", RUN_NOW_MAX_ROWS["save"], False),
        ("save", RUN_NOW_MAX_ROWS["save"] + 1, True),
    ],
)
def test_an_undo_past_the_rows_one_request_can_change_is_not_run_now(mode, rows, refused):
    preview = undo_preview(rows - 1, 1)
    refusal = undo_run_now_refusal(preview, {STUDENTS: mode})
    assert (refusal is not None) == refused
    context = undo_confirmation(PushRun(pk=7, date=FRI), preview, modes={STUDENTS: mode})
    assert context["can_run_now"] is not refused
    assert context["run_now_refusal"] == refusal
    if refused:
        limit = RUN_NOW_MAX_ROWS[mode]
        assert refusal == (
            f"This undo changes {rows} rows of Student attendance, more than one web request can finish in time "
            f"({limit}); queue it for the worker instead."
        )


def test_withdrawals_and_corrections_count_against_the_run_now_limit():
    limit = RUN_NOW_MAX_ROWS["sql"]
    result = TargetResult(STUDENTS, 0, 1, 0, corrected=limit)
    refusal = run_now_refusal([FRI], [PushResult(FRI, (result,), dry_run=True)], {STUDENTS: "sql"})
    assert refusal is not None
    assert f"writes {limit + 1} rows to Student attendance" in refusal


@pytest.mark.django_db
def test_run_now_of_a_big_undo_is_refused_and_queueing_offered(superuser_client, make_students, monkeypatch):
    make_students(3)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.SUCCEEDED, run.error
    monkeypatch.setitem(confirmation.RUN_NOW_MAX_ROWS, "sql", 2)
    url = reverse("admin:attendance_push_pushrun_undo", args=[run.pk])

    page = superuser_client.get(url).content.decode()
    assert 'name="run_now"' not in page
    assert 'name="queue"' in page
    assert "This undo changes 3 rows of Student attendance" in page

    response = superuser_client.post(url, {"confirm": "yes", "run_now": "1"}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [
        "This undo changes 3 rows of Student attendance, more than one web request can finish in time (2); "
        "queue it for the worker instead."
    ]
    assert not PushRun.objects.filter(trigger=PushRun.Trigger.UNDO).exists()
    assert StudentAttendance.objects.filter(date=DAY).count() == 3


@pytest.mark.django_db
def test_run_now_of_a_small_undo_still_runs(superuser_client, make_students):
    make_students(3)
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    url = reverse("admin:attendance_push_pushrun_undo", args=[run.pk])
    assert 'name="run_now"' in superuser_client.get(url).content.decode()
    superuser_client.post(url, {"confirm": "yes", "run_now": "1"})
    assert StudentAttendance.objects.filter(date=DAY).count() == 0
    assert PushRun.objects.get(trigger=PushRun.Trigger.UNDO).status == PushRun.Status.SUCCEEDED
