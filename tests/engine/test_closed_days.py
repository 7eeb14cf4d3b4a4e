"""Closed days: weekly offs, public holidays, closures and make-up days (workdays.py and the push)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendance_push import workdays
from attendance_push.conf import conf
from attendance_push.models import Closure, PushRun, WorkingDay
from attendance_push.push import push
from attendance_push.runs import catch_up, missed_days, run_push, scheduled_push
from attendance_push.schedule import push_instant
from attendance_push.text import closed_days, closed_reason
from tests.support.config import push_settings
from tests.support.demo import (
    DASHAMI,
    EMPLOYEES,
    FRIDAY,
    KTM,
    SATURDAY,
    STUDENTS,
    attendance,
    records,
    schedule_next_run,
    target,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def monday():
    """Start at noon on Monday 30 November 2026 in Kathmandu: the days pushed here are in the past."""
    with time_machine.travel(datetime.datetime(2026, 11, 30, 12, 0, tzinfo=KTM), tick=True):
        yield


def without_rules(counts: dict) -> dict:
    """Return the counts per target without the per-rule breakdown (tested in test_push.py)."""
    return {label: {k: v for k, v in c.items() if k != "rules"} for label, c in counts.items()}


# The demo's calendar -------------------------------------------------------------------------------------------


def test_demo_saturday_is_closed_and_creates_nothing_but_fills_check_outs(demo_calendar, people):
    students, employees = people
    came_in = attendance(students[0], SATURDAY, status="Present", time_in=datetime.time(9, 30))
    attendance(employees[0], SATURDAY, status="Present", time_in=datetime.time(8, 0))

    result = push(SATURDAY)

    # The reason in the pusher's words, and in none for a page in another language (test_closed_reasons.py).
    saturday = {"closed": "weekly off (Saturday)", "closed_reason": {"kind": "weekly_off", "weekday": 5}}
    assert without_rules(result.counts()) == {
        STUDENTS: {"created": 0, "filled": 1, "skipped": 0, **saturday},
        EMPLOYEES: {"created": 0, "filled": 1, "skipped": 0, **saturday},
    }
    assert records(SATURDAY) == (1, 1)
    came_in.refresh_from_db()
    assert came_in.time_out == datetime.time(17, 0)


def test_demo_friday_is_open(demo_calendar, people):
    result = push(FRIDAY)
    assert without_rules(result.counts()) == {
        STUDENTS: {"created": 3, "filled": 0, "skipped": 0},
        EMPLOYEES: {"created": 2, "filled": 0, "skipped": 0},
    }
    assert records(FRIDAY) == (3, 2)


def test_demo_bijaya_dashami_is_closed_through_holidays(demo_calendar, people):
    assert DASHAMI.weekday() == 1  # a Tuesday: closed by the holiday, not by the weekly off
    result = push(DASHAMI)
    assert result.closed == {STUDENTS: "Bijaya Dashami", EMPLOYEES: "Bijaya Dashami"}
    assert result.created == 0
    assert records(DASHAMI) == (0, 0)


def test_a_holiday_on_the_weekly_off_gives_the_holidays_name(demo_calendar):
    constitution_day = datetime.date(2026, 9, 19)  # a Saturday
    assert closed_reason(target(STUDENTS), constitution_day) == "Constitution Day"


# Settings: weekly off, holidays, per target ---------------------------------------------------------------------


def test_without_a_calendar_every_day_is_open(people):
    assert conf.WEEKLY_OFF == [] and conf.HOLIDAYS is None
    assert without_rules(push(SATURDAY).counts())[STUDENTS] == {"created": 3, "filled": 0, "skipped": 0}


def test_a_target_replaces_the_global_weekly_off_and_holidays(settings, people):
    config = django_settings.DEMO_ATTENDANCE_PUSH
    teachers = {**config["TARGETS"][1], "weekly_off": ["SUN"], "holidays": None}
    settings.ATTENDANCE_PUSH = push_settings(demo=True, TARGETS=[config["TARGETS"][0], teachers])

    saturday = push(SATURDAY)
    assert saturday.closed == {STUDENTS: "weekly off (Saturday)"}
    assert records(SATURDAY) == (0, 2)
    assert push(DASHAMI).closed == {STUDENTS: "Bijaya Dashami"}
    assert closed_reason(target(EMPLOYEES), SATURDAY + datetime.timedelta(days=1)) == "weekly off (Sunday)"


def test_holidays_categories_and_subdivisions_are_passed_to_the_holidays_package(settings):
    settings.ATTENDANCE_PUSH = push_settings(HOLIDAYS={"country": "US", "subdiv": "CA", "categories": ["public"]})
    # César Chávez Day is a California holiday, not a federal one.
    assert closed_reason(target(STUDENTS), datetime.date(2026, 3, 31)) == "Cesar Chavez Day"
    assert closed_reason(target(STUDENTS), datetime.date(2026, 3, 30)) is None


# Closures and make-up days ---------------------------------------------------------------------------------------


def test_a_closure_for_one_target_only_closes_that_target(demo_calendar, people, superuser):
    Closure.objects.create(
        name="Winter break", first_day=FRIDAY, last_day=FRIDAY + datetime.timedelta(days=10), targets=[STUDENTS]
    )
    result = push(FRIDAY)
    assert result.closed == {STUDENTS: "Winter break"}
    assert records(FRIDAY) == (0, 2)
    assert PushRun.objects.count() == 0


def test_a_closure_for_every_target_names_itself_as_the_reason(people):
    Closure.objects.create(name="Strike", first_day=FRIDAY, last_day=FRIDAY)
    result = push(FRIDAY)
    assert result.closed == {STUDENTS: "Strike", EMPLOYEES: "Strike"}
    assert records(FRIDAY) == (0, 0)
    assert push(FRIDAY - datetime.timedelta(days=1)).closed == {}


def test_a_make_up_saturday_is_open(demo_calendar, people):
    WorkingDay.objects.create(day=SATURDAY, name="Make-up day for Tihar")
    result = push(SATURDAY)
    assert result.closed == {}
    assert records(SATURDAY) == (3, 2)


def test_a_make_up_day_for_one_target_opens_only_that_target(demo_calendar, people):
    WorkingDay.objects.create(day=DASHAMI, name="Staff training", targets=[EMPLOYEES])
    assert push(DASHAMI).closed == {STUDENTS: "Bijaya Dashami"}
    assert records(DASHAMI) == (0, 2)


def test_a_closure_wins_over_a_make_up_day(demo_calendar, people):
    WorkingDay.objects.create(day=SATURDAY, name="Make-up day")
    Closure.objects.create(name="Snow", first_day=SATURDAY, last_day=SATURDAY)
    assert closed_reason(target(STUDENTS), SATURDAY) == "Snow"


def test_a_day_a_closure_closes_does_not_compute_the_public_holidays(demo_calendar, people, monkeypatch):
    computed = []
    monkeypatch.setattr(workdays, "_holidays", lambda *args: computed.append(args) or {})
    Closure.objects.create(name="Snow", first_day=DASHAMI, last_day=DASHAMI)
    assert push(DASHAMI).closed == {STUDENTS: "Snow", EMPLOYEES: "Snow"}
    assert computed == []
    # A span the closure covers only partly still needs them, for the other days.
    closed_days(conf.TARGETS, DASHAMI, DASHAMI + datetime.timedelta(days=1))
    assert len(computed) == len(conf.TARGETS)


def test_a_range_is_decided_in_two_queries_whatever_its_length_and_the_number_of_people(demo_calendar, people):
    Closure.objects.create(
        name="Winter break", first_day=datetime.date(2026, 12, 24), last_day=datetime.date(2027, 1, 5)
    )
    WorkingDay.objects.create(day=datetime.date(2026, 12, 5), name="Make-up")
    with CaptureQueriesContext(connection) as queries:
        found = closed_days(conf.TARGETS, datetime.date(2026, 12, 1), datetime.date(2027, 1, 31))
    assert len(queries) == 2
    students = found[STUDENTS]
    assert datetime.date(2026, 12, 5) not in students  # the make-up Saturday
    assert students[datetime.date(2026, 12, 12)] == "weekly off (Saturday)"
    assert students[datetime.date(2026, 12, 25)] == "Winter break"  # the closure over Christmas Day
    assert students[datetime.date(2027, 1, 5)] == "Winter break"
    assert datetime.date(2027, 1, 6) not in students


def test_closure_and_working_day_refuse_unknown_target_labels_and_reversed_days():
    closure = Closure(name="Strike", first_day=FRIDAY, last_day=FRIDAY, targets=["school.Student"])
    with pytest.raises(ValidationError) as raised:
        closure.full_clean()
    assert "school.Student: not an attendance model the push fills" in str(raised.value)
    assert STUDENTS in str(raised.value)
    with pytest.raises(ValidationError, match="The last day is before the first day"):
        Closure(name="Strike", first_day=FRIDAY, last_day=FRIDAY - datetime.timedelta(days=1)).full_clean()
    with pytest.raises(ValidationError, match="list of attendance labels"):
        WorkingDay(day=SATURDAY, targets="school.StudentAttendance").full_clean()
    Closure(name="Strike", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS, EMPLOYEES]).full_clean()
    WorkingDay(day=SATURDAY, targets=[]).full_clean()


# Runs: the record, the schedule, catch-up, forcing ---------------------------------------------------------------


def test_the_run_keeps_the_reason_per_target_in_its_counts(demo_calendar, people):
    with time_machine.travel(datetime.datetime(2026, 11, 28, 21, 0, 5, tzinfo=KTM), tick=False):
        run = scheduled_push(push_instant(SATURDAY))
    assert (run.status, run.trigger, run.created) == ("succeeded", "schedule", 0)
    assert run.counts[STUDENTS]["closed"] == "weekly off (Saturday)"
    assert run.counts[EMPLOYEES]["closed"] == "weekly off (Saturday)"
    assert not run.include_closed


def test_an_all_closed_day_needs_no_superuser(demo_calendar, make_students):
    make_students(2)  # no superuser: an open day would fail, a closed day creates nothing and succeeds
    with time_machine.travel(datetime.datetime(2026, 11, 28, 21, 0, 5, tzinfo=KTM), tick=False):
        run = run_push(SATURDAY, trigger=PushRun.Trigger.SCHEDULE)
    assert run.status == "succeeded", run.error


def test_forcing_creates_records_on_a_closed_day_and_is_recorded(demo_calendar, people):
    with time_machine.travel(datetime.datetime(2026, 11, 28, 21, 0, 5, tzinfo=KTM), tick=False):
        run = run_push(SATURDAY, trigger=PushRun.Trigger.ADMIN, include_closed=True)
    assert run.include_closed
    assert run.created == 5
    assert without_rules(run.counts)[STUDENTS] == {
        "created": 3,
        "filled": 0,
        "skipped": 0,
        "closed": "weekly off (Saturday)",
        "closed_reason": {"kind": "weekly_off", "weekday": 5},
    }
    assert run.counts[STUDENTS]["rules"] == [{"rule": "", "status": "Present", "created": 3, "skipped": 0}]
    assert records(SATURDAY) == (3, 2)


def test_catch_up_treats_closed_days_as_handled(demo_calendar, people):
    # Installed on Thursday the 26th; the worker was down until Sunday morning.
    with time_machine.travel(datetime.datetime(2026, 11, 26, 8, 0, tzinfo=KTM), tick=False):
        PushRun.objects.create(date=datetime.date(2026, 11, 25), trigger="command", status="succeeded")
    schedule_next_run(datetime.datetime(2026, 11, 29, 8, 0, tzinfo=KTM))
    with time_machine.travel(datetime.datetime(2026, 11, 29, 8, 0, tzinfo=KTM), tick=False):
        assert missed_days(datetime.datetime.now(datetime.UTC)) == [datetime.date(2026, 11, 26), FRIDAY]
        runs = catch_up()
    assert [run.date for run in runs] == [datetime.date(2026, 11, 26), FRIDAY]
    assert records(SATURDAY) == (0, 0)
    assert not PushRun.objects.filter(date=SATURDAY).exists()


def test_catch_up_still_pushes_a_day_closed_for_one_target_only(demo_calendar, people):
    with time_machine.travel(datetime.datetime(2026, 11, 26, 8, 0, tzinfo=KTM), tick=False):
        PushRun.objects.create(date=datetime.date(2026, 11, 25), trigger="command", status="succeeded")
    Closure.objects.create(name="Sports day", first_day=FRIDAY, last_day=FRIDAY, targets=[STUDENTS])
    schedule_next_run(datetime.datetime(2026, 11, 28, 8, 0, tzinfo=KTM))
    with time_machine.travel(datetime.datetime(2026, 11, 28, 8, 0, tzinfo=KTM), tick=False):
        runs = catch_up()
    assert [run.date for run in runs] == [datetime.date(2026, 11, 26), FRIDAY]
    assert records(FRIDAY) == (0, 2)


# Checks ------------------------------------------------------------------------------------------------------


def calendar_check(settings, **changes):
    from attendance_push.checks import check_calendar

    settings.ATTENDANCE_PUSH = push_settings(demo=True, **changes)
    return [(message.id, message.msg, message.hint) for message in check_calendar()]


def test_the_demo_calendar_passes_the_checks(settings):
    assert calendar_check(settings) == []


@pytest.mark.parametrize("bad", [["SATURDAY"], ["sat"], "SAT", [6]])
def test_e030_an_unknown_weekday_name_lists_the_valid_ones(settings, bad):
    ((check_id, msg, hint),) = calendar_check(settings, WEEKLY_OFF=bad)
    assert check_id == "attendance_push.E030"
    assert "WEEKLY_OFF" in msg
    assert "MON, TUE, WED, THU, FRI, SAT, SUN" in hint


def test_e030_a_targets_own_weekly_off_is_checked_too(settings):
    config = django_settings.DEMO_ATTENDANCE_PUSH
    teachers = {**config["TARGETS"][1], "weekly_off": ["Sun"]}
    ((check_id, msg, _hint),) = calendar_check(settings, TARGETS=[config["TARGETS"][0], teachers])
    assert check_id == "attendance_push.E030"
    assert "['TARGETS'][1]['weekly_off']" in msg and "'Sun'" in msg


def test_e031_an_unknown_country_lists_the_valid_codes(settings):
    ((check_id, msg, hint),) = calendar_check(settings, HOLIDAYS={"country": "XX"})
    assert check_id == "attendance_push.E031"
    assert "'XX' is not a country" in msg
    assert "NP" in hint and "US" in hint


def test_e031_an_unknown_subdivision_lists_the_valid_ones(settings):
    ((check_id, msg, hint),) = calendar_check(settings, HOLIDAYS={"country": "US", "subdiv": "ZZ"})
    assert check_id == "attendance_push.E031"
    assert "'ZZ' is not a subdivision of US" in msg
    assert "CA" in hint and "NY" in hint
    ((check_id, _msg, hint),) = calendar_check(settings, HOLIDAYS={"country": "NP", "subdiv": "1"})
    assert check_id == "attendance_push.E031"
    assert "none" in hint


@pytest.mark.parametrize("bad", ["NP", {"subdiv": "CA"}, {"country": "NP", "region": "x"}])
def test_e031_holidays_must_be_a_dict_with_a_country(settings, bad):
    ((check_id, _msg, hint),) = calendar_check(settings, HOLIDAYS=bad)
    assert check_id == "attendance_push.E031"
    assert "'country': 'NP'" in hint


def test_e031_an_unknown_category_lists_the_valid_ones(settings):
    ((check_id, _msg, hint),) = calendar_check(settings, HOLIDAYS={"country": "NP", "categories": ["bank"]})
    assert check_id == "attendance_push.E031"
    assert "public" in hint


def test_w030_warns_when_no_calendar_is_configured_at_all(settings):
    config = {k: v for k, v in django_settings.DEMO_ATTENDANCE_PUSH.items() if k not in ("WEEKLY_OFF", "HOLIDAYS")}
    settings.ATTENDANCE_PUSH = config
    from attendance_push.checks import check_calendar

    (warning,) = check_calendar()
    assert warning.id == "attendance_push.W030"
    assert "every day, weekends included, gets records" in warning.msg
    assert "'WEEKLY_OFF': []" in warning.hint
    # Saying so explicitly ("every day is a working day") is a calendar.
    settings.ATTENDANCE_PUSH = {**config, "WEEKLY_OFF": []}
    assert check_calendar() == []


def test_manage_py_check_fails_on_an_unknown_weekday(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.ATTENDANCE_PUSH = push_settings(demo=True, WEEKLY_OFF=["SATURDAY"])
    with pytest.raises(SystemCheckError, match="attendance_push.E030"):
        call_command("check")
