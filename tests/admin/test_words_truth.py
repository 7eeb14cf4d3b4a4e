"""Counts and words that match what happened (issue 20, point 8): every message of a push counts what it did,
corrections and withdrawals included, and says what it did not do."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from attendance_push import text
from attendance_push.admin import words
from attendance_push.admin.confirmation import push_confirmation
from attendance_push.exceptions import PushError
from attendance_push.models import Closure, PushRun
from attendance_push.push import push
from attendance_push.runs import run_push, start_undo
from school.models import StudentAttendance
from tests.support.admin_pages import CHANGELIST, PUSH
from tests.support.demo import DAY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("superuser")]

STUDENTS = "school.StudentAttendance"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def only_students(settings, **target) -> None:
    settings.ATTENDANCE_PUSH = {
        **settings.ATTENDANCE_PUSH,
        "TARGETS": [{"attendance": STUDENTS, "person_field": "student", **target}],
    }


# A push that withdrew records says so ---------------------------------------------------------------------------


@pytest.fixture
def withdrawing_push(settings, make_students, caplog):
    """Push DAY for 3 students, close it, then push it again: the second push withdraws the 3 records."""
    only_students(settings)
    make_students(3)
    first = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert first.created == 3
    Closure.objects.create(name="Snow", first_day=DAY, last_day=DAY)
    with caplog.at_level(logging.INFO, logger="attendance_push"):
        second = run_push(DAY, trigger=PushRun.Trigger.ADMIN)
    assert second.status == PushRun.Status.SUCCEEDED
    assert not StudentAttendance.objects.exists()
    return second


def test_the_run_now_message_counts_the_records_withdrawn(withdrawing_push):
    run = withdrawing_push
    assert run.corrected == 3
    message = words.pushed_text(run)
    assert message.startswith(
        f"Pushed 2026-11-20 (run {run.pk}): 0 created, 0 check-outs filled, 0 skipped, 3 earlier records corrected."
    )


def test_the_log_line_counts_the_records_withdrawn(withdrawing_push, caplog):
    assert any(
        f"succeeded (run {withdrawing_push.pk}): 0 created, 0 check-outs filled, 0 skipped, 3 earlier records corrected"
        in record.getMessage()
        for record in caplog.get_records("setup")
    )


def test_the_history_row_and_the_command_count_the_records_withdrawn(withdrawing_push, superuser_client):
    page = superuser_client.get(CHANGELIST).content.decode()
    assert "3 earlier records corrected" in page
    out = StringIO()
    call_command("push_attendance", "--date", "2026-11-20", "--dry-run", stdout=out)
    # Nothing left to withdraw now: no correction counted.
    assert "0 created, 0 check-outs filled, 0 skipped" in out.getvalue()
    assert "corrected" not in out.getvalue()


def test_the_command_counts_the_records_it_withdraws(settings, make_students):
    only_students(settings)
    make_students(2)
    run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    Closure.objects.create(name="Snow", first_day=DAY, last_day=DAY)

    out = StringIO()
    call_command("push_attendance", "--date", "2026-11-20", stdout=out)

    assert "closed (Snow): 0 created, 0 check-outs filled, 0 skipped, 2 earlier records corrected" in out.getvalue()


# A refusal says it was refused, and that nothing was queued -----------------------------------------------------


def test_a_refused_run_now_says_nothing_was_queued(superuser_client, make_students):
    make_students(2)
    response = superuser_client.post(
        PUSH, {"start": "2026-11-19", "end": "2026-11-20", "confirm": "yes", "run_now": "1"}, follow=True
    )
    (message,) = messages_of(response)
    assert message.startswith("Not run, and nothing was queued: Only a single day runs in this request")
    assert "waits in the queue" not in message
    assert not PushRun.objects.exists()


def test_a_run_now_too_big_says_queue_it_not_that_it_waits():
    message = words.too_big_text(200_000, STUDENTS, 100_000)
    assert "waits in the queue" not in message and "queue it for the worker instead" in message


def test_an_undo_refused_while_a_push_of_its_day_runs_says_the_undo_is_refused(make_students):
    make_students(2)
    pushed = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    live = PushRun.objects.create(date=DAY, trigger="admin", status="queued", task_id="waiting")

    with pytest.raises(PushError) as refused:
        start_undo(pushed)

    message = str(refused.value)
    assert message.startswith(f"The undo of run {pushed.pk} is refused, and nothing was recorded: a push of 2026-11-20")
    assert f"(queued, run {live.pk}," in message
    assert not message.startswith("The push of")
    assert PushRun.objects.count() == 2


def test_an_undo_refused_after_the_other_run_finished_says_the_undo_is_refused(make_students):
    make_students(1)
    pushed = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    message = text.undo_was_refused(pushed)
    assert message.startswith(f"The undo of run {pushed.pk} is refused, and nothing was recorded")


def test_was_under_way_is_translated():
    english = text.was_under_way(DAY)
    with translation.override("ne"):
        nepali = text.was_under_way(DAY)
    assert english.startswith("The push of 2026-11-20 was already under way")
    assert nepali != english and "2026-11-20" in nepali


# A dry run speaks of what would happen --------------------------------------------------------------------------


def test_a_forced_dry_run_of_a_closed_day_says_would_be_pushed_anyway(settings, make_students):
    only_students(settings)
    make_students(2)
    Closure.objects.create(name="Snow", first_day=DAY, last_day=DAY)

    out = StringIO()
    call_command("push_attendance", "--date", "2026-11-20", "--dry-run", "--include-closed", stdout=out)

    assert "closed (Snow), would be pushed anyway: 2 created" in out.getvalue()
    assert "), pushed anyway" not in out.getvalue()
    assert not StudentAttendance.objects.exists()


@pytest.mark.parametrize("write", ["sql", "save"])
def test_a_save_mode_preview_says_the_host_may_decline_records(settings, make_students, write):
    only_students(settings, write=write)
    make_students(2)

    out = StringIO()
    call_command("push_attendance", "--date", "2026-11-20", "--dry-run", stdout=out)
    context = push_confirmation([DAY], [push(DAY, dry_run=True)], modes={STUDENTS: write})

    said = "the host's save() may decline some of these records" in out.getvalue()
    assert said is (write == "save")
    assert bool(context["save_notes"]) is (write == "save")
    if write == "save":
        assert "may decline" in context["save_notes"][0]


def test_the_confirmation_page_says_the_host_may_decline_records(settings, make_students, superuser_client):
    only_students(settings, write="save")
    make_students(2)
    page = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert "attendance-push-save-note" in page and "may decline some of these records" in page.replace("&#x27;", "'")
