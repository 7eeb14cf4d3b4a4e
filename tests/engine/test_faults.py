"""Honest under faults: bad dates, far-back days, the push zone's clock, checks that read the database."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import models
from django.test.utils import isolate_apps

from attendance_push.checks import check_settings, check_status_rows
from attendance_push.checks.targets import _check_unfilled
from attendance_push.days import validate_day
from attendance_push.exceptions import PushError
from attendance_push.models import PushRun
from attendance_push.push import push
from attendance_push.runs import run_push
from school.models import StudentAttendance
from tests.support.config import member_target, push_settings

pytestmark = pytest.mark.django_db

# 14:05 on 20 November 2026 in Kathmandu (08:20 UTC).
NOW = datetime.datetime(2026, 11, 20, 8, 20, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 11, 20)
PUSH = "/admin/attendance_push/pushrun/push/"
CHANGELIST = "/admin/attendance_push/pushrun/"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def push_attendance(*args: str) -> str:
    out = StringIO()
    call_command("push_attendance", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- 10. push_attendance --date accepts YYYY-MM-DD only ---------------------------------------------


@pytest.mark.parametrize(
    "value", ["20261120", "2026-W47-5", "2026-324", "2026-11-20T00:00", " 2026-11-20", "２０２６-11-20"]
)
@pytest.mark.parametrize("option", ["--date", "--from", "--to"])
def test_dates_other_than_yyyy_mm_dd_are_refused(superuser, make_students, option, value):
    make_students(1)
    args = [option, value] if option == "--date" else ["--from", "2026-11-19", "--to", "2026-11-20"]
    if option != "--date":
        args[args.index(option) + 1] = value
    with pytest.raises(CommandError, match="is not a date; write it as YYYY-MM-DD"):
        push_attendance(*args)
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_a_yyyy_mm_dd_date_is_accepted(superuser, make_students):
    make_students(1)
    assert "2026-11-19 pushed" in push_attendance("--date", "2026-11-19")


# --- 8. MAX_PAST_DAYS ------------------------------------------------------------------------------


def test_the_oldest_day_is_max_past_days_ago_by_default():
    assert validate_day(TODAY - datetime.timedelta(days=366)) == datetime.date(2025, 11, 19)
    with pytest.raises(PushError, match=r"2025-11-18 is more than 366 days ago .*ATTENDANCE_PUSH\['MAX_PAST_DAYS'\]"):
        validate_day(datetime.date(2025, 11, 18))


def test_the_command_refuses_a_day_older_than_max_past_days(superuser, make_students):
    make_students(3)
    with pytest.raises(CommandError, match=r"0001-01-01 is more than 366 days ago.*MAX_PAST_DAYS"):
        push_attendance("--date", "0001-01-01")
    with pytest.raises(CommandError, match=r"2025-11-18 is more than 366 days ago"):
        push_attendance("--from", "2025-11-18", "--to", "2025-11-20")
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_max_past_days_is_a_setting(settings, superuser, make_students):
    settings.ATTENDANCE_PUSH = push_settings(MAX_PAST_DAYS=2)
    make_students(1)
    with pytest.raises(CommandError, match=r"2026-11-17 is more than 2 days ago \(the oldest day that can be pushed"):
        push_attendance("--date", "2026-11-17")
    assert "2026-11-18 pushed" in push_attendance("--date", "2026-11-18")


def test_the_preview_refuses_a_day_older_than_max_past_days(make_students):
    make_students(2)
    with pytest.raises(PushError, match="MAX_PAST_DAYS"):
        push(datetime.date(1, 1, 1), dry_run=True)


@pytest.mark.parametrize("data", [{"start": "0001-01-01"}, {"start": "2025-11-01", "end": "2025-11-20"}])
def test_the_admin_refuses_a_day_older_than_max_past_days(pusher, make_students, data):
    make_students(2)
    for extra in ({}, {"confirm": "yes"}):
        response = pusher.post(PUSH, {**data, **extra})
        content = response.content.decode()
        assert response.status_code == 200
        # In an office's words: how far back, the oldest day, whom to ask; no setting's name.
        assert "is too long ago to push: a push goes back at most 366 days" in content
        assert "the oldest day you can push today is Wednesday 19 November 2025" in content
        assert "ask the person who looks after this website" in content
        assert "MAX_PAST_DAYS" not in content
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_the_admin_names_whom_to_ask_for_an_older_day(pusher, settings):
    settings.ADMINS = [("Ram Thapa", "ram@example.com")]
    content = pusher.post(PUSH, {"start": "2020-01-01"}).content.decode()
    assert "To push an older day, ask Ram Thapa (ram@example.com)." in content


def test_the_admins_rerun_action_refuses_a_day_older_than_max_past_days(pusher, make_students):
    make_students(2)
    old = PushRun.objects.create(date=datetime.date(2020, 1, 1), trigger="command", status="failed")
    form = {"action": "rerun_days", "_selected_action": [old.pk]}
    preview = pusher.post(CHANGELIST, form)
    assert "2020-01-01 is too long ago to push" in preview.content.decode()
    assert "MAX_PAST_DAYS" not in preview.content.decode()
    assert "Yes, push" not in preview.content.decode()
    pusher.post(CHANGELIST, {**form, "post": "yes"})
    assert list(PushRun.objects.values_list("pk", flat=True)) == [old.pk]
    assert not StudentAttendance.objects.exists()


@pytest.mark.parametrize("value", [-1, "366", 1.5, True, None])
def test_e023_max_past_days_must_be_a_whole_number(settings, value):
    settings.ATTENDANCE_PUSH = push_settings(MAX_PAST_DAYS=value)
    errors = check_settings()
    assert [error.id for error in errors] == ["attendance_push.E023"]
    assert "MAX_PAST_DAYS" in errors[0].msg and errors[0].hint


# --- 9. the push zone's clock on the push pages ----------------------------------------------------


def test_the_push_pages_show_the_time_in_the_push_zone_not_in_time_zone(pusher, settings):
    settings.TIME_ZONE = "Europe/London"  # 08:20
    settings.ATTENDANCE_PUSH = push_settings(TIME_ZONE="Africa/Dar_es_Salaam")  # 11:20
    form = pusher.get(PUSH).content.decode()
    assert "It is 11:20 on Friday 20 November 2026 in Africa/Dar_es_Salaam." in " ".join(form.split())
    confirmation = pusher.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert "It is 11:20 in Africa/Dar_es_Salaam." in confirmation


# --- 9. E013 and a CharField(blank=True) without a default -----------------------------------------


@isolate_apps("tests.variants")
def test_e013_accepts_a_blank_text_field_without_a_default_and_refuses_a_required_one():
    class Note(models.Model):
        remark = models.CharField(max_length=20, blank=True)
        comment = models.TextField(blank=True)
        code = models.CharField(max_length=20)

        class Meta:
            app_label = "variants"

        def __str__(self) -> str:
            return self.code

    errors = list(_check_unfilled("where", Note, []))
    assert [error.msg for error in errors] == [
        "where: variants.Note.code is required and the push has no value for it."
    ]


def test_a_blank_text_field_gets_what_django_saves_an_empty_string(settings, superuser):
    from tests.variants.models import Member

    Member.objects.create(full_name="Ann")
    settings.ATTENDANCE_PUSH = push_settings(target=member_target("variants.Timesheet", bare=True))
    from tests.variants.models import Timesheet

    status = Timesheet._meta.get_field("status")
    blank = status.blank
    status.blank = True  # the shape of the report: CharField(blank=True), no default, not null
    try:
        # (W040 only says Timesheet's save() logic is not run by the set-based push.)
        assert [e.id for e in check_settings()] == ["attendance_push.W040"]
        assert push(TODAY).created == 1
        assert Timesheet.objects.get().status == ""
    finally:
        status.blank = blank


# --- 9. checks that read the database are database checks, and the push checks again ----------------


def lookup_target(settings, status) -> None:
    settings.ATTENDANCE_PUSH = push_settings(
        target=member_target("variants.Roll", bare=True, status_field="state", status=status)
    )


def test_a_missing_lookup_row_is_a_database_check_only(settings, django_assert_num_queries):
    lookup_target(settings, {"name": "Present"})
    with django_assert_num_queries(0):
        assert check_settings() == []  # what migrate's and qcluster's start run without databases
    assert check_status_rows() == []
    errors = check_status_rows(databases=["default"])
    assert [error.id for error in errors] == ["attendance_push.E016"]
    assert "no variants.AttendanceState matches {'name': 'Present'}" in errors[0].msg


def test_a_missing_lookup_row_does_not_block_qcluster_or_check_without_database(settings):
    lookup_target(settings, {"name": "Present"})
    call_command("check", stdout=StringIO(), stderr=StringIO())  # no SystemCheckError
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match="attendance_push.E016"):
        call_command("check", "--database", "default", stdout=StringIO(), stderr=StringIO())


def test_the_database_check_waits_for_pending_migrations(settings, monkeypatch):
    from attendance_push.checks import targets

    lookup_target(settings, {"name": "Present"})
    monkeypatch.setattr(targets, "_migrations_pending", lambda alias: True)
    assert check_status_rows(databases=["default"]) == []


def test_a_missing_foreign_key_row_in_extra_values_is_a_database_check(settings):
    from tests.variants.models import AttendanceState

    state = AttendanceState.objects.create(name="Present")
    lookup_target(settings, {"name": "Present"})
    settings.ATTENDANCE_PUSH["TARGETS"][0]["status_field"] = None
    settings.ATTENDANCE_PUSH["TARGETS"][0]["extra_values"] = {"state": state.pk + 100}
    assert check_settings() == []
    errors = check_status_rows(databases=["default"])
    assert [error.id for error in errors] == ["attendance_push.E017"]
    assert f"id {state.pk + 100} is not a valid choice" in errors[0].msg


def test_a_missing_lookup_row_at_push_time_is_a_clear_failed_run(settings):
    from tests.variants.models import Member

    Member.objects.create(full_name="Ann")
    lookup_target(settings, {"name": "Present"})
    run = run_push(TODAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.FAILED
    assert run.error == (
        "variants.Roll: no variants.AttendanceState matches {'name': 'Present'}: create it or correct 'status'."
    )


# --- 4. the hourly test schedule does not outlive its command ---------------------------------------


def test_the_test_schedule_holds_a_lease_its_command_renews():
    from django_q.models import Schedule

    from attendance_push.conf import TEST_SCHEDULE_NAME
    from attendance_push.schedule import TEST_LEASE, ensure_test_schedule, renew_test_lease

    schedule = ensure_test_schedule()
    assert schedule.kwargs == repr({"lease_until": (NOW + TEST_LEASE).isoformat()})
    with time_machine.travel(NOW + datetime.timedelta(seconds=30), tick=False):
        assert renew_test_lease() is True
    lease = Schedule.objects.get(name=TEST_SCHEDULE_NAME).kwargs
    assert lease == repr({"lease_until": (NOW + datetime.timedelta(seconds=30) + TEST_LEASE).isoformat()})
    Schedule.objects.filter(name=TEST_SCHEDULE_NAME).delete()
    assert renew_test_lease() is False


def test_the_hourly_push_runs_while_the_lease_holds_and_drops_its_schedule_after(superuser, make_students):
    from django_q.models import Schedule

    from attendance_push.conf import TEST_SCHEDULE_NAME
    from attendance_push.schedule import TEST_LEASE, ensure_test_schedule
    from attendance_push.tasks import push_today

    make_students(2)
    lease = (NOW + TEST_LEASE).isoformat()
    ensure_test_schedule()
    run = PushRun.objects.get(pk=push_today(lease_until=lease))
    assert (run.status, run.created) == ("succeeded", 2)
    with time_machine.travel(NOW + TEST_LEASE, tick=False):
        assert push_today(lease_until=lease) is None
        assert push_today() is None  # a schedule from before leases
    assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
    assert PushRun.objects.count() == 1


def test_the_catch_up_check_drops_a_test_schedule_whose_lease_ran_out(superuser):
    from django_q.models import Schedule

    from attendance_push.conf import TEST_SCHEDULE_NAME
    from attendance_push.schedule import TEST_LEASE, ensure_test_schedule
    from attendance_push.tasks import catch_up

    ensure_test_schedule()
    with time_machine.travel(NOW + TEST_LEASE - datetime.timedelta(seconds=1), tick=False):
        catch_up()
    assert Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()
    with time_machine.travel(NOW + TEST_LEASE, tick=False):
        catch_up()
    assert not Schedule.objects.filter(name=TEST_SCHEDULE_NAME).exists()


# --- 3. "Run it now in this request" only where it fits in one request ----------------------------


def test_run_now_is_offered_for_one_small_day_only(pusher, make_students):
    make_students(3)
    one_day = pusher.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert 'name="run_now"' in one_day
    a_range = pusher.get(PUSH, {"start": "2026-11-18", "end": "2026-11-20"}).content.decode()
    assert 'name="run_now"' not in a_range
    assert "Only a single day runs in this request; queue a range for the worker instead." in a_range


def test_run_now_of_a_range_is_refused_and_pushes_nothing(pusher, make_students):
    make_students(3)
    response = pusher.post(
        PUSH, {"start": "2026-11-18", "end": "2026-11-20", "confirm": "yes", "run_now": "1"}, follow=True
    )
    texts = [str(message) for message in response.context["messages"]]
    assert any("Only a single day runs in this request" in text for text in texts), texts
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_run_now_of_a_push_too_big_for_one_request_is_refused(pusher, make_students, monkeypatch):
    from attendance_push.admin import confirmation as push_admin

    monkeypatch.setattr(push_admin, "RUN_NOW_MAX_ROWS", {"sql": 2, "save": 2})
    make_students(3)
    page = pusher.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert 'name="run_now"' not in page
    assert "This push writes 3 rows to Student attendance, more than one web request can finish in time (2)" in page
    response = pusher.post(PUSH, {"start": "2026-11-20", "confirm": "yes", "run_now": "1"}, follow=True)
    assert any("more than one web request" in str(m) for m in response.context["messages"])
    assert not PushRun.objects.exists()
    assert not StudentAttendance.objects.exists()


def test_a_push_stopped_with_its_request_is_recorded_interrupted_at_once(superuser, make_students, monkeypatch):
    from attendance_push import runs

    make_students(3)

    def worker_timeout(day, *, dry_run=False, **kwargs):
        # What gunicorn does to a worker past its timeout (SIGABRT, handled as sys.exit(1)).
        raise SystemExit(1)

    monkeypatch.setattr(runs, "push", worker_timeout)
    with pytest.raises(SystemExit):
        run_push(TODAY, trigger=PushRun.Trigger.ADMIN)
    run = PushRun.objects.get()
    assert run.status == "interrupted" and run.finished_at
    assert "nothing was written" in run.error and run.error.endswith("(SystemExit)")
