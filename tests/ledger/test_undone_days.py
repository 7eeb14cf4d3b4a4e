"""An undone day is not a pushed day: the history, its calendar, the health check and catch-up agree.

The rule: a day is handled once a push or an undo of it succeeded that started at or after its push time
(catch-up and the schedule leave it alone). A handled day is *undone* when its latest successful push was
undone since, else *pushed*; a later successful push makes it pushed again.
"""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

import attendance_push
from attendance_push.calendar import LEGEND, MISSED, PUSHED, UNDONE, day_outcomes, history_calendar
from attendance_push.health import check_health
from attendance_push.models import PushRun
from attendance_push.runs import is_pushed, missed_days, run_push, run_undo
from attendance_push.schedule import push_instant
from tests.support.admin_pages import CHANGELIST, STATUS
from tests.support.demo import DAY, PINNED_NOW

pytestmark = pytest.mark.django_db

INSTANT = push_instant(DAY)  # 21:00 on DAY, in the push zone; PINNED_NOW is the next day's noon
EVENING = INSTANT + datetime.timedelta(minutes=1)
MORNING = INSTANT - datetime.timedelta(hours=10)
HEALTH = "/attendance-push/health/"


def push_at(moment: datetime.datetime, day: datetime.date = DAY) -> PushRun:
    with time_machine.travel(moment, tick=False):
        run = run_push(day, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.SUCCEEDED, run.error
    return run


def undo_at(moment: datetime.datetime, run: PushRun) -> PushRun:
    with time_machine.travel(moment, tick=False):
        undo_run = run_undo(run)
    assert undo_run.status == PushRun.Status.SUCCEEDED, undo_run.error
    return undo_run


def outcome(day: datetime.date = DAY, now: datetime.datetime = PINNED_NOW) -> str:
    calendar = {cell.day: cell.outcome for cell in history_calendar(now.astimezone(INSTANT.tzinfo).date(), now)}
    live = day_outcomes({day}, now)[day]
    assert calendar[day] == live  # the page and its live updates tell the same
    return live


def agreement(now: datetime.datetime = PINNED_NOW) -> tuple[str, bool, int | None, bool, bool]:
    """Return what the calendar, the health check and catch-up say about DAY (yesterday at `now`)."""
    health = check_health(now)
    assert health.yesterday == DAY
    with time_machine.travel(now, tick=False):
        missed = DAY in missed_days(timezone.now())
    return outcome(now=now), health.yesterday_pushed, health.yesterday_undone_by, missed, bool(health.problems)


@pytest.fixture
def students(make_students, superuser):
    return make_students(3)


def test_a_day_undone_after_its_push_time_is_undone_everywhere_and_not_pushed_again(students):
    run = push_at(EVENING)
    undo_run = undo_at(EVENING + datetime.timedelta(hours=1), run)

    assert agreement() == (UNDONE, False, undo_run.pk, False, False)
    # Handled, as the existing decision has it: the schedule and catch-up leave it to an administrator.
    assert is_pushed(DAY)

    # Pushed again by hand: pushed again everywhere.
    again = push_at(EVENING + datetime.timedelta(hours=2))
    assert agreement() == (PUSHED, True, None, False, False)
    assert again.created == 3


def test_a_push_undone_before_its_push_time_is_missed_once_the_time_has_passed(students):
    run = push_at(MORNING)
    undo_at(MORNING + datetime.timedelta(minutes=5), run)

    # Before the push time, today's undone push shows as undone; the evening's push is still to come.
    before = INSTANT - datetime.timedelta(hours=1)
    assert outcome(now=before) == UNDONE
    # After it, no push stands for the day, and catch-up will push it: missed, and health says so.
    calendar_outcome, pushed, undone_by, missed, problems = agreement()
    assert (calendar_outcome, pushed, undone_by, missed) == (MISSED, False, None, True)
    assert problems


def test_an_early_push_undone_after_the_push_time_is_undone(students):
    run = push_at(MORNING)
    undo_run = undo_at(EVENING, run)
    assert agreement() == (UNDONE, False, undo_run.pk, False, False)


def test_the_latest_push_decides_pushed_or_undone(students):
    first = push_at(EVENING)
    second = push_at(EVENING + datetime.timedelta(minutes=30))
    # Undoing an earlier push leaves the latest standing: pushed.
    undo_at(EVENING + datetime.timedelta(hours=1), first)
    assert agreement() == (PUSHED, True, None, False, False)
    # Undoing the latest: undone.
    undo_run = undo_at(EVENING + datetime.timedelta(hours=2), second)
    assert agreement() == (UNDONE, False, undo_run.pk, False, False)


def test_the_calendar_legend_and_the_stylesheet_have_an_undone_colour():
    assert str(LEGEND[UNDONE]).startswith("Undone")
    css = Path(attendance_push.__file__).parent.joinpath("static/attendance_push/admin.css").read_text()
    assert ".attendance-push-day--undone { background:" in css
    pushed_colour = css.split(".attendance-push-day--pushed { background:")[1].split(";")[0]
    undone_colour = css.split(".attendance-push-day--undone { background:")[1].split(";")[0]
    assert undone_colour != pushed_colour


def test_the_history_says_undone_by_run_n_on_the_row_the_page_and_the_calendar(students, superuser_client):
    run = push_at(EVENING)
    with time_machine.travel(EVENING + datetime.timedelta(hours=1), tick=False):
        page_undo = superuser_client.post(
            f"{CHANGELIST}{run.pk}/undo/", {"confirm": "yes", "run_now": "1"}, follow=True
        )
    assert page_undo.status_code == 200
    undo_run = PushRun.objects.get(trigger=PushRun.Trigger.UNDO)
    link = f'href="{CHANGELIST}{undo_run.pk}/change/"'

    history = superuser_client.get(CHANGELIST).content.decode()
    badge = f'<a class="attendance-push-badge attendance-push-badge--undone" {link}>Undone by run {undo_run.pk}</a>'
    assert badge in history
    # One "Succeeded": the undo's own row.
    assert history.count(">Succeeded</span>") == 1
    assert f'data-day="{DAY:%Y-%m-%d}" data-outcome="undone"' in history
    assert "Undone: its last push was undone" in history

    page = superuser_client.get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    assert badge in page
    assert ">Succeeded</span>" not in page


def test_the_live_history_turns_the_undone_row_when_the_undo_finishes(students, superuser_client):
    run = push_at(EVENING)
    undo_run = undo_at(EVENING + datetime.timedelta(hours=1), run)

    # The page polled the undo while it ran; its last answer redraws the run it undid too.
    data = json.loads(superuser_client.get(STATUS, {"ids": str(undo_run.pk)}).content)
    assert f"Undone by run {undo_run.pk}" in data["runs"][str(run.pk)]["cells"]["status_badge"]
    assert data["runs"][str(run.pk)]["status"] == "succeeded"
    assert data["days"] == {f"{DAY:%Y-%m-%d}": UNDONE}


def test_health_and_status_say_yesterday_was_undone_and_it_is_no_problem(students, client):
    earlier = push_at(
        push_instant(DAY - datetime.timedelta(days=1)) + datetime.timedelta(minutes=1), DAY - datetime.timedelta(days=1)
    )
    run = push_at(EVENING)
    undo_run = undo_at(EVENING + datetime.timedelta(hours=1), run)

    with time_machine.travel(PINNED_NOW, tick=False):
        data = json.loads(client.get(HEALTH).content)
        out = StringIO()
        call_command("attendance_push_status", stdout=out)
    assert data["yesterday"] == {"day": f"{DAY:%Y-%m-%d}", "pushed": False, "undone": True, "closed": False}
    # The latest day whose push still stands, not the undone one.
    assert data["last_pushed_day"] == f"{earlier.date:%Y-%m-%d}"
    assert data["healthy"] is True, data["problems"]
    assert f"Yesterday ({DAY:%Y-%m-%d}): undone by run {undo_run.pk}" in out.getvalue()
