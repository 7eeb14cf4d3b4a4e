"""Pushing from the admin: permission, Push now, Push a day…, rerun, duplicates, the calendar."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ

from attendance_push.models import PushRun
from attendance_push.schedule import push_instant
from attendance_push.tasks import execute_run
from school.models import StudentAttendance
from tests.support.admin_pages import CHANGELIST, PUSH, frozen_at, messages_of, staff_with
from tests.support.alive import kept_alive
from tests.support.config import push_settings
from tests.support.demo import KTM, attendance
from tests.support.runs import failed_run

pytestmark = [pytest.mark.django_db, pytest.mark.clock]

# 14:05 on 20 November 2026 in Kathmandu.
NOW = datetime.datetime(2026, 11, 20, 14, 5, tzinfo=KTM)
TODAY = datetime.date(2026, 11, 20)

frozen_time = frozen_at(NOW)


# Permission ---------------------------------------------------------------------------------


def test_the_confirmation_says_what_each_rule_will_create(superuser_client, make_employees):
    from school.models import Leave

    on_leave, _working = make_employees(2)
    Leave.objects.create(employee=on_leave, first_day=TODAY, last_day=TODAY, approved=True)

    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()

    assert '<td class="attendance-push-records">1 Present, 1 Leave</td>' in content
    assert not Leave.objects.filter(employee__attendance__isnull=False).exists()


def test_a_viewer_without_the_permission_sees_the_history_but_no_push_button(client):
    client.force_login(staff_with("view_pushrun"))
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Last 90 days" in content
    assert "Push now" not in content and "Push a day" not in content
    assert "rerun_days" not in content


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("data", [{}, {"start": "2026-11-19"}, {"start": "2026-11-19", "confirm": "yes"}])
def test_every_push_url_is_403_without_the_permission(client, make_students, superuser, method, data):
    make_students(2)
    client.force_login(staff_with("view_pushrun"))
    assert getattr(client, method)(PUSH, data).status_code == 403
    assert not PushRun.objects.exists()


def test_the_rerun_action_cannot_be_posted_without_the_permission(client, superuser):
    run = failed_run(TODAY)
    client.force_login(staff_with("view_pushrun"))
    client.post(CHANGELIST, {"action": "rerun_days", "_selected_action": [run.pk], "post": "yes"})
    assert PushRun.objects.count() == 1


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(PUSH)
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_a_staff_user_with_the_permission_can_push(client, superuser, make_students):
    make_students(1)
    client.force_login(staff_with("view_pushrun", "push_attendance"))
    assert "Push now" in client.get(CHANGELIST).content.decode()
    response = client.post(PUSH, {"start": "2026-11-19", "end": "2026-11-19", "confirm": "yes", "run_now": "1"})
    assert response.status_code == 302
    assert PushRun.objects.get().status == "succeeded"


# Push now and its confirmation ----------------------------------------------------------------


def test_push_now_links_to_the_confirmation_of_today(superuser_client):
    content = superuser_client.get(CHANGELIST).content.decode()
    assert f'href="{PUSH}?start=2026-11-20"' in content


def test_the_confirmation_previews_each_target_and_the_local_time_and_writes_nothing(superuser_client, make_students):
    students = make_students(4)
    attendance(students[0], day=TODAY, time_in=datetime.time(9, 0))
    attendance(students[1], day=TODAY, time_in=datetime.time(18, 0))

    response = superuser_client.get(PUSH, {"start": "2026-11-20"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "It is 14:05 in Asia/Kathmandu." in content
    assert "Friday 20 November 2026" in content
    assert response.context["totals"] == {
        "school.StudentAttendance": {
            "created": 2,
            "filled": 1,
            "skipped": 1,
            "rules": [{"rule": "", "status": "Present", "created": 2, "skipped": 0}],
        },
        "school.EmployeeAttendance": {
            "created": 0,
            "filled": 0,
            "skipped": 0,
            "rules": [
                {"rule": "On leave", "status": "Leave", "created": 0, "skipped": 0},
                {"rule": "", "status": "Present", "created": 0, "skipped": 0},
            ],
        },
    }
    assert 'name="csrfmiddlewaretoken"' in content and 'method="post"' in content
    assert StudentAttendance.objects.count() == 2 and not PushRun.objects.exists()


def test_the_preview_matches_what_the_push_then_does(superuser_client, make_students, make_employees):
    students = make_students(6)
    make_employees(2)
    attendance(students[0], day=TODAY, time_in=datetime.time(8, 0))
    attendance(students[1], day=TODAY, status="Absent")
    preview = superuser_client.get(PUSH, {"start": "2026-11-20"}).context["totals"]

    response = superuser_client.post(
        PUSH, {"start": "2026-11-20", "end": "2026-11-20", "confirm": "yes", "run_now": "1"}
    )

    run = PushRun.objects.get()
    assert run.counts == preview
    assert (run.trigger, run.requested_by.username) == ("admin", "root")
    assert "Pushed 2026-11-20" in " ".join(messages_of(superuser_client.get(response.url)))


def test_confirming_queues_the_push_and_it_shows_queued_then_succeeded(
    superuser_client, make_students, django_capture_on_commit_callbacks
):
    make_students(3)
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(PUSH, {"start": "2026-11-20", "end": "2026-11-20", "confirm": "yes"})
    assert response.status_code == 302 and response.url == CHANGELIST

    run = PushRun.objects.get()
    assert (run.status, run.trigger, run.date) == ("queued", "admin", TODAY)
    assert OrmQ.objects.count() == 1 and run.task_id
    listing = superuser_client.get(CHANGELIST)
    assert "Queued the push of 2026-11-20 (run" in " ".join(messages_of(listing))
    assert 'attendance-push-badge--queued">Queued<' in listing.content.decode()

    execute_run(run.pk)  # what the worker does with the task
    assert 'attendance-push-badge--succeeded">Succeeded<' in superuser_client.get(CHANGELIST).content.decode()


def test_without_a_worker_the_page_says_so_and_offers_to_run_in_the_request(superuser_client):
    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert "No worker is running: this push will wait in the queue" in content
    assert 'name="run_now"' in content
    assert "No worker is running" in superuser_client.get(CHANGELIST).content.decode()


def test_run_now_reports_a_failure_and_emails_the_admins(superuser_client, settings, make_students):
    settings.ADMINS = [("Head", "head@school.example")]
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost")
    make_students(1)
    response = superuser_client.post(PUSH, {"start": "2026-11-20", "confirm": "yes", "run_now": "1"}, follow=True)
    assert any("failed" in text and "'ghost'" in text for text in messages_of(response))
    assert PushRun.objects.get().status == "failed"
    assert len(mail.outbox) == 1


def test_a_refused_preview_shows_why_and_no_confirm_button(superuser_client, settings):
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost")
    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    # In the admin's words: the user to add, where; the setting's name is for the command line.
    assert (
        "Pushed records are recorded as created by the user “ghost”, but no active user has that name. "
        "Add that user under Users › Add user."
    ) in content
    assert "Yes, push" not in content


# Push a day… -----------------------------------------------------------------------------------


def test_the_push_a_day_form_starts_at_today(superuser_client):
    response = superuser_client.get(PUSH)
    assert response.status_code == 200
    assert response.context["form"]["start"].value() == TODAY
    assert "It is 14:05" in response.content.decode()


def test_a_server_in_another_zone_still_shows_the_push_zones_clock_and_times(superuser_client, settings, superuser):
    settings.TIME_ZONE = "America/New_York"  # 03:20 there
    assert "It is 14:05 on Friday 20 November 2026 in Asia/Kathmandu." in superuser_client.get(PUSH).content.decode()
    PushRun.objects.create(date=TODAY, trigger="admin", requested_by=superuser)
    content = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert "It is 14:05 in Asia/Kathmandu." in content
    assert "already under way (queued, run" in content and "requested 2026-11-20 14:05 Asia/Kathmandu)" in content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "2026-11-21"}, "2026-11-21 is in the future (today is 2026-11-20 in Asia/Kathmandu)"),
        ({"start": "2026-11-10", "end": "2026-11-25"}, "2026-11-25 is in the future"),
        ({"start": "2026-11-12", "end": "2026-11-10"}, "The range is reversed: 2026-11-12 is after 2026-11-10."),
        ({"start": "2026-10-01", "end": "2026-11-01"}, "At most 31 days at a time; this range has 32."),
        ({"start": "20/11/2026x"}, "Write the day as year-month-day, for example 2026-11-20."),
        ({"start": "2026-02-30"}, "Enter a valid date."),
        ({"start": ""}, "This field is required."),
    ],
)
def test_the_form_refuses_bad_days_with_a_clear_message(superuser_client, data, message):
    response = superuser_client.post(PUSH, {**data, "confirm": "yes"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PushRun.objects.exists()


def test_a_range_previews_each_day_and_queues_one_run_per_day(superuser_client, make_students):
    make_students(2)
    preview = superuser_client.post(PUSH, {"start": "2026-11-18", "end": "2026-11-20"})
    assert [p.day for p in preview.context["previews"]] == [
        datetime.date(2026, 11, 18),
        datetime.date(2026, 11, 19),
        TODAY,
    ]
    assert preview.context["totals"]["school.StudentAttendance"]["created"] == 6

    superuser_client.post(PUSH, {"start": "2026-11-18", "end": "2026-11-20", "confirm": "yes"})

    assert sorted(PushRun.objects.values_list("date", "status")) == [
        (datetime.date(2026, 11, 18), "queued"),
        (datetime.date(2026, 11, 19), "queued"),
        (TODAY, "queued"),
    ]


def test_a_second_push_of_a_day_under_way_is_refused_naming_the_first(superuser_client, superuser):
    first = PushRun.objects.create(date=TODAY, trigger="schedule", status="running", started_at=NOW)

    preview = superuser_client.get(PUSH, {"start": "2026-11-20"}).content.decode()
    assert f"already under way (running, run {first.pk}, requested 2026-11-20 14:05 Asia/Kathmandu)" in preview
    assert "Yes, push" not in preview

    response = superuser_client.post(PUSH, {"start": "2026-11-20", "confirm": "yes"}, follow=True)
    assert any(f"already under way (running, run {first.pk}" in text for text in messages_of(response))
    assert PushRun.objects.count() == 1


# Rerun ------------------------------------------------------------------------------------------


def test_the_rerun_action_confirms_then_queues_each_selected_day_once(superuser_client):
    failed = failed_run(datetime.date(2026, 11, 18))
    again = failed_run(datetime.date(2026, 11, 18), trigger="admin")
    other = PushRun.objects.create(date=datetime.date(2026, 11, 19), trigger="schedule", status="succeeded")
    selected = [failed.pk, again.pk, other.pk]

    confirmation = superuser_client.post(CHANGELIST, {"action": "rerun_days", "_selected_action": selected})
    assert confirmation.status_code == 200
    assert confirmation.context["days"] == [datetime.date(2026, 11, 18), datetime.date(2026, 11, 19)]
    assert PushRun.objects.count() == 3

    superuser_client.post(CHANGELIST, {"action": "rerun_days", "_selected_action": selected, "post": "yes"})

    queued = PushRun.objects.filter(status="queued")
    assert sorted(queued.values_list("date", flat=True)) == [datetime.date(2026, 11, 18), datetime.date(2026, 11, 19)]


def test_the_detail_page_offers_rerun_this_day_first_of_all_for_failures(superuser_client):
    failed = failed_run(datetime.date(2026, 11, 18))
    content = superuser_client.get(f"{CHANGELIST}{failed.pk}/change/").content.decode()
    assert re.search(
        rf'<a href="{PUSH}\?start=2026-11-18"\s+class="attendance-push-rerun--urgent">Rerun this day</a>', content
    )
    succeeded = PushRun.objects.create(date=datetime.date(2026, 11, 17), trigger="schedule", status="succeeded")
    content = superuser_client.get(f"{CHANGELIST}{succeeded.pk}/change/").content.decode()
    assert "Rerun this day" in content and "attendance-push-rerun--urgent" not in content


# The calendar -----------------------------------------------------------------------------------


def outcomes(response) -> dict[str, str]:
    return dict(re.findall(r'data-day="([\d-]+)" data-outcome="(\w+)"', response.content.decode()))


def test_the_calendar_colours_each_day_by_its_outcome(superuser_client):
    def run(day: int, status: str, *, started: datetime.datetime | None = None) -> None:
        date = datetime.date(2026, 11, day)
        started = started or push_instant(date) + datetime.timedelta(seconds=30)
        with time_machine.travel(started, tick=False):
            PushRun.objects.create(date=date, trigger="schedule", status=status, started_at=started)

    run(10, "succeeded")  # the first push: the installation starts here
    run(11, "failed")
    run(12, "failed")
    run(12, "succeeded")  # rerun after a failure: pushed
    run(13, "running")
    run(14, "succeeded", started=datetime.datetime(2026, 11, 14, 12, 0, tzinfo=KTM))  # before 21:00 only
    run(16, "interrupted")

    # A running run whose process is gone would be marked interrupted: this one's push is alive.
    with kept_alive(*PushRun.objects.filter(status="running")):
        calendar = outcomes(superuser_client.get(CHANGELIST))

    assert len(calendar) == 90
    assert calendar["2026-11-09"] == "before"
    assert calendar["2026-11-10"] == "pushed"
    assert calendar["2026-11-11"] == "failed"
    assert calendar["2026-11-12"] == "pushed"
    assert calendar["2026-11-13"] == "running"
    assert calendar["2026-11-14"] == "missed"
    assert calendar["2026-11-15"] == "missed"
    assert calendar["2026-11-16"] == "failed"
    assert calendar["2026-11-20"] == "upcoming"  # 14:05, before tonight's push
    assert list(calendar)[0] == "2026-08-23" and list(calendar)[-1] == "2026-11-20"


def test_a_calendar_day_links_to_that_days_runs(superuser_client):
    mine = failed_run(datetime.date(2026, 11, 11))
    failed_run(datetime.date(2026, 11, 12))
    content = superuser_client.get(CHANGELIST).content.decode()
    link = re.search(r'href="(\?date__year=2026&amp;date__month=11&amp;date__day=11)"', content).group(1)

    response = superuser_client.get(CHANGELIST + link.replace("&amp;", "&"))

    assert [run.pk for run in response.context["cl"].result_list] == [mine.pk]


def test_the_history_lists_per_target_counts_and_newest_first(superuser_client):
    PushRun.objects.create(date=datetime.date(2026, 11, 18), trigger="schedule", status="succeeded")
    newest = PushRun.objects.create(
        date=datetime.date(2026, 11, 19),
        trigger="schedule",
        status="succeeded",
        counts={"school.StudentAttendance": {"created": 7, "filled": 2, "skipped": 1}},
    )
    response = superuser_client.get(CHANGELIST)
    assert response.context["cl"].result_list[0] == newest
    assert 'Student attendance: <span class="nowrap">7 / 2 / 1</span>' in response.content.decode()


def test_the_changelist_and_calendar_query_count_does_not_grow_with_the_history(superuser_client, superuser):
    def queries(runs: int) -> int:
        PushRun.objects.bulk_create(
            (
                PushRun(
                    date=TODAY - datetime.timedelta(days=n % 365),
                    trigger="schedule",
                    status="succeeded",
                    requested_by=superuser,
                    started_at=NOW,
                )
                for n in range(runs)
            ),
            batch_size=1000,
        )
        with CaptureQueriesContext(connection) as captured:
            assert superuser_client.get(CHANGELIST).status_code == 200
        return len(captured)

    # 10,000 runs: a year of history with several runs a day.
    assert queries(10) == queries(10_000)


def test_today_pushed_before_its_push_time_shows_as_pushed_until_then(superuser_client):
    early = datetime.datetime(2026, 11, 20, 11, 0, tzinfo=KTM)
    with time_machine.travel(early, tick=False):
        PushRun.objects.create(date=TODAY, trigger="admin", status="succeeded", started_at=early)
    assert outcomes(superuser_client.get(CHANGELIST))["2026-11-20"] == "pushed"
    # After 21:00 without the evening push, the day is missed.
    with time_machine.travel(datetime.datetime(2026, 11, 20, 22, 0, tzinfo=KTM), tick=False):
        assert outcomes(superuser_client.get(CHANGELIST))["2026-11-20"] == "missed"
