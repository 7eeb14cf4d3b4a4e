"""The admin as an office uses it: the live status view, the next push, errors that say what to do,
what the confirmation promises, ISO dates and Bikram Sambat dates in Nepali."""

from __future__ import annotations

import datetime
import html
import json

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import override_settings

from attendance_push.bikram import bs_date
from attendance_push.models import PushRun
from attendance_push.schedule import push_instant
from tests.support.admin_pages import CHANGELIST, PUSH, STATUS, frozen_at, staff_with
from tests.support.config import push_settings
from tests.support.demo import KTM, schedule_next_run
from tests.support.runs import failed_run

DAY = f"{PUSH}day/"

pytestmark = pytest.mark.django_db

# 18:50 on Thursday 3 December 2026 in Kathmandu: 2 h 10 min before the 21:00 push.
NOW = datetime.datetime(2026, 12, 3, 18, 50, tzinfo=KTM)
TODAY = datetime.date(2026, 12, 3)


frozen_time = frozen_at(NOW)


@pytest.fixture(autouse=True)
def schedule(frozen_time):
    """Register the daily push as at NOW: the pages say when the next one is."""
    schedule_next_run(NOW)


def succeeded(day: datetime.date, **fields) -> PushRun:
    start = push_instant(day) + datetime.timedelta(seconds=5)
    return PushRun.objects.create(
        date=day, trigger="schedule", status="succeeded", started_at=start, finished_at=start, **fields
    )


# The history -------------------------------------------------------------------------------


def test_the_history_says_when_the_next_push_is_and_that_no_worker_runs(superuser_client):
    content = superuser_client.get(CHANGELIST).content.decode()
    assert "Next push: <strong>Thursday 3 December, 21:00 Asia/Kathmandu (in 2 h 10 min)</strong>" in content
    assert "No worker is running" in content
    assert "Ask the person who looks after this website's server to start the worker." in content


@override_settings(ADMINS=[("Ram Thapa", "ram@example.com")])
def test_the_no_worker_note_names_who_to_ask(superuser_client):
    content = superuser_client.get(CHANGELIST).content.decode()
    assert "Ask Ram Thapa (ram@example.com) to start the worker." in content


def test_rows_are_ordered_by_day_newest_first(superuser_client):
    old = failed_run(TODAY - datetime.timedelta(days=5), trigger="admin")
    new = failed_run(TODAY - datetime.timedelta(days=1))
    # Requested last, but for the oldest day.
    rerun = failed_run(TODAY - datetime.timedelta(days=9), trigger="admin")
    response = superuser_client.get(CHANGELIST)
    assert [run.pk for run in response.context["cl"].result_list] == [new.pk, old.pk, rerun.pk]


def test_the_calendar_has_weekday_labels_and_sunday_first_weeks(superuser_client):
    response = superuser_client.get(CHANGELIST)
    content = response.content.decode()
    assert content.count('class="attendance-push-weekday"') == 7
    weeks = response.context["calendar_weeks"]
    assert all(len(week.days) == 7 for week in weeks)
    days = [cell.day for week in weeks for cell in week.days if cell is not None]
    assert len(days) == 90 and days[-1] == TODAY
    for week in weeks:
        for position, cell in enumerate(week.days):
            if cell is not None:
                assert cell.day.isoweekday() % 7 == position  # Sunday 0 … Saturday 6
    # Each month that starts within the calendar labels its week.
    assert [week.month for week in weeks if week.month] == [
        datetime.date(2026, 9, 5),
        datetime.date(2026, 10, 1),
        datetime.date(2026, 11, 1),
        datetime.date(2026, 12, 1),
    ]


def test_a_failed_run_shows_its_whole_first_line_and_links_to_the_run_that_fixed_its_day(superuser_client):
    day = TODAY - datetime.timedelta(days=2)
    error = "OperationalError: " + "could not connect to the database server at db.internal; " * 4
    failed = failed_run(day, error=error + "\nsecond line")
    with time_machine.travel(NOW + datetime.timedelta(minutes=1), tick=False):
        fixed = PushRun.objects.create(date=day, trigger="admin", status="succeeded")
    content = superuser_client.get(CHANGELIST).content.decode()
    assert f'title="{error}">{error}</span>' in content
    assert "second line" not in content
    assert f'<a class="attendance-push-fixed-by" href="{CHANGELIST}{fixed.pk}/change/">Fixed by run {fixed.pk}</a>' in (
        content
    )
    page = superuser_client.get(f"{CHANGELIST}{failed.pk}/change/").content.decode()
    assert f"Run {fixed.pk} pushed this day later." in page
    unfixed = failed_run(day - datetime.timedelta(days=1))
    assert "Not fixed yet" in superuser_client.get(f"{CHANGELIST}{unfixed.pk}/change/").content.decode()


def test_the_traceback_is_collapsed(superuser_client):
    run = PushRun.objects.create(
        date=TODAY, trigger="schedule", status="failed", error="Boom", traceback="Traceback (most recent call last):"
    )
    content = superuser_client.get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    details = content[content.index('<details class="attendance-push-traceback-box">') :]
    assert (
        details.index("<summary>") < details.index("Traceback (most recent call last):") < details.index("</details>")
    )
    assert "<details open" not in content


# The live status view ----------------------------------------------------------------------


def test_the_status_view_returns_each_runs_live_cells_and_the_days_outcome(superuser_client):
    queued = PushRun.objects.create(date=TODAY - datetime.timedelta(days=1), trigger="admin")
    done = succeeded(TODAY - datetime.timedelta(days=2), counts={"school.StudentAttendance": {"created": 3}})
    response = superuser_client.get(STATUS, {"ids": f"{queued.pk},{done.pk},999999"})
    assert response.status_code == 200
    data = json.loads(response.content)
    assert set(data["runs"]) == {str(queued.pk), str(done.pk)}
    assert data["runs"][str(queued.pk)]["status"] == "queued" and data["runs"][str(queued.pk)]["active"]
    assert data["runs"][str(done.pk)]["active"] is False
    cells = data["runs"][str(done.pk)]["cells"]
    assert cells["status_badge"] == (
        '<span class="attendance-push-badge attendance-push-badge--succeeded">Succeeded</span>'
        '<span class="attendance-push-duration">0.00 s</span>'
    )
    assert cells["counts_per_target"] == (
        '<span class="attendance-push-count">Student attendance: <span class="nowrap">3 / 0 / 0</span></span>'
    )
    assert data["days"] == {f"{queued.date:%Y-%m-%d}": "running", f"{done.date:%Y-%m-%d}": "pushed"}


def test_the_status_view_refuses_bad_ids_and_people_who_cannot_see_the_history(client, superuser_client):
    assert superuser_client.get(STATUS, {"ids": "1,x"}).status_code == 400
    assert json.loads(superuser_client.get(STATUS).content) == {"runs": {}, "days": {}}
    client.logout()
    clerk = staff_with()
    client.force_login(clerk)
    assert client.get(STATUS, {"ids": "1"}).status_code == 403
    clerk.user_permissions.set(Permission.objects.filter(codename="view_pushrun"))
    assert client.get(STATUS, {"ids": "1"}).status_code == 200


def test_the_status_view_announces_the_runs_created_after_a_given_run(superuser_client, django_assert_num_queries):
    before = succeeded(TODAY - datetime.timedelta(days=1))
    # What the idle history costs every half minute: the session, the user, one look for new runs.
    with django_assert_num_queries(3):
        assert json.loads(superuser_client.get(STATUS, {"after": before.pk}).content) == {
            "runs": {},
            "days": {},
            "new": [],
        }
    scheduled = PushRun.objects.create(date=TODAY, trigger="schedule", status="running")
    data = json.loads(superuser_client.get(STATUS, {"after": before.pk}).content)
    assert [run["id"] for run in data["new"]] == [scheduled.pk]
    html = data["new"][0]["html"]
    link = f'<a href="{CHANGELIST}{scheduled.pk}/change/">'
    assert f"{link}Run {scheduled.pk}, Thu 3 Dec 2026 (Schedule), started" in html
    assert f'data-attendance-push-run="{scheduled.pk}" data-field="status_badge" data-status="running"' in html
    # Its live cells and its day come along, as for the runs the page asked about.
    assert data["runs"][str(scheduled.pk)]["active"] is True
    assert data["days"] == {f"{TODAY:%Y-%m-%d}": "running"}
    assert json.loads(superuser_client.get(STATUS, {"after": scheduled.pk}).content)["new"] == []
    assert superuser_client.get(STATUS, {"after": "x"}).status_code == 400


def test_the_history_tells_its_script_the_newest_run(superuser_client):
    assert 'data-latest="0"' in superuser_client.get(CHANGELIST).content.decode()
    run = succeeded(TODAY - datetime.timedelta(days=1))
    content = superuser_client.get(CHANGELIST).content.decode()
    assert f'data-latest="{run.pk}"' in content
    assert '<ul class="messagelist attendance-push-new-runs" aria-live="polite"></ul>' in content
    # A run's own page waits for that run only.
    assert "data-latest" not in superuser_client.get(f"{CHANGELIST}{run.pk}/change/").content.decode()


def test_queued_runs_are_tracked_by_the_page(superuser_client, make_students):
    make_students(2)
    response = superuser_client.post(PUSH, {"start": "2026-11-29", "end": "2026-12-01", "confirm": "yes"}, follow=True)
    runs = list(PushRun.objects.order_by("pk"))
    content = response.content.decode()
    assert f'<span class="attendance-push-progress" data-runs="{",".join(str(run.pk) for run in runs)}"></span>' in (
        content
    )
    assert 'data-progress="day {n} of {total}"' in content
    for run in runs:
        assert f'data-attendance-push-run="{run.pk}" data-field="status_badge" data-status="queued"' in content


# Pushing -----------------------------------------------------------------------------------


def test_the_push_form_takes_year_month_day_text_and_says_the_day_in_words(superuser_client):
    content = superuser_client.get(PUSH).content.decode()
    # Text, not the browser's date picker, which Chromium shows as mm/dd/yyyy in an en-US browser.
    assert '<input type="text" name="start" value="2026-12-03" placeholder="YYYY-MM-DD"' in content
    assert f'data-for="id_start" data-url="{DAY}"' in content
    assert 'aria-live="polite">Thursday 3 December 2026</span>' in content
    bound = superuser_client.get(PUSH, {"start": "2026-12-31"}).content.decode()
    assert 'aria-live="polite">Thursday 31 December 2026</span>' in bound
    assert 'value="2026-12-31"' in bound


@pytest.mark.parametrize("typed", ["01/12/2026", "01122026", "12/01/2026", "2026-1-2", "2026-12-1", "20261201"])
def test_a_day_not_written_year_month_day_is_refused_not_guessed(superuser_client, typed):
    content = superuser_client.get(PUSH, {"start": typed}).content.decode()
    assert "Write the day as year-month-day, for example 2026-12-03." in content
    assert "Push 1 day" not in content and "Push " + "Tuesday" not in content
    assert not PushRun.objects.exists()


def test_the_day_view_says_a_day_in_words_from_the_server(superuser_client):
    response = superuser_client.get(DAY, {"day": "2026-12-01"})
    assert response.status_code == 200
    assert json.loads(response.content) == {"words": "Tuesday 1 December 2026"}
    # In Nepali: the weekday and month in Nepali (Django's catalogue, not the browser's), and Bikram Sambat.
    nepali = json.loads(superuser_client.get(DAY, {"day": "2026-12-01"}, HTTP_ACCEPT_LANGUAGE="ne").content)
    assert nepali == {"words": f"मंगलबार 1 डिसम्वर 2026 ({bs_date(datetime.date(2026, 12, 1))})"}
    assert bs_date(datetime.date(2026, 12, 1)) == "२०८३ मंसिर १५"
    # 12 January, for whoever typed 01122026 into an mm/dd/yyyy field, reads as January.
    january = json.loads(superuser_client.get(DAY, {"day": "2026-01-12"}, HTTP_ACCEPT_LANGUAGE="ne").content)
    assert january == {"words": "सोमबार 12 जनवरी 2026 (२०८२ पौष २८)"}


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("01122026", "Write the day as year-month-day, for example 2026-12-03."),
        ("01/12/2026", "Write the day as year-month-day, for example 2026-12-03."),
        ("2026-1", "Write the day as year-month-day, for example 2026-12-03."),
        ("", "Write the day as year-month-day, for example 2026-12-03."),
        ("2026-02-30", "Enter a valid date."),
    ],
)
def test_the_day_view_refuses_what_is_not_a_day(superuser_client, typed, error):
    response = superuser_client.get(DAY, {"day": typed})
    assert response.status_code == 400
    assert json.loads(response.content) == {"error": error}


def test_the_day_view_is_for_people_who_may_push(client):
    clerk = staff_with("view_pushrun")
    client.force_login(clerk)
    assert client.get(DAY, {"day": "2026-12-01"}).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="push_attendance"))
    assert client.get(DAY, {"day": "2026-12-01"}).status_code == 200


def test_the_confirmation_says_what_each_record_holds(superuser_client, superuser, make_students):
    make_students(1)
    content = superuser_client.get(PUSH, {"start": "2026-12-02"}).content.decode()
    assert "<li>Student attendance: Present, 09:00–17:00, created by root</li>" in content
    assert "<li>Employee attendance: Present, 09:00–17:00, created by root</li>" in content


def test_the_confirmation_lists_days_that_are_not_consecutive_one_by_one(superuser_client, make_students):
    make_students(1)
    runs = [failed_run(datetime.date(2026, 11, day)) for day in (20, 24, 25)]
    response = superuser_client.post(
        CHANGELIST, {"action": "rerun_days", "_selected_action": [run.pk for run in runs]}, follow=True
    )
    content = response.content.decode()
    assert "not one after the other" in content
    assert "<li>Friday 20 November 2026</li>" in content
    assert "<li>Tuesday 24 November 2026 to Wednesday 25 November 2026</li>" in content
    response = superuser_client.post(
        CHANGELIST,
        {"action": "rerun_days", "post": "yes", "_selected_action": [run.pk for run in runs]},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert "Queued the push of 3 days: 2026-11-20, 2026-11-24 – 2026-11-25 (runs" in message


def test_without_a_superuser_the_confirmation_links_to_adding_one(client, make_students):
    make_students(1)
    client.force_login(staff_with("view_pushrun", "push_attendance", "add_user", "change_user"))
    content = client.get(PUSH, {"start": "2026-12-02"}).content.decode()
    assert (
        "No active superuser to record as the creator of pushed records. "
        "Add one under Users › Add user and tick “Superuser status”."
    ) in content
    assert '<a href="/admin/auth/user/add/">Add a user now</a>' in content
    assert client.get("/admin/auth/user/add/").status_code == 200


@pytest.mark.parametrize(
    ("admins", "ask"),
    [
        ([("Ram Thapa", "ram@example.com")], "Ask Ram Thapa (ram@example.com) to add one"),
        ([], "Ask the person who manages this website's users to add one"),
    ],
)
def test_a_clerk_who_may_not_add_users_is_told_whom_to_ask(client, make_students, settings, admins, ask):
    settings.ADMINS = admins
    make_students(1)
    # Adding a user takes both permissions in Django's admin.
    client.force_login(staff_with("view_pushrun", "push_attendance", "add_user"))
    content = html.unescape(client.get(PUSH, {"start": "2026-12-02"}).content.decode())
    assert f"{ask} (Users › Add user, with “Superuser status” ticked)." in content
    # The link would answer 403 to this clerk.
    assert "Add a user now" not in content
    assert client.get("/admin/auth/user/add/").status_code == 403


def test_without_the_actor_a_clerk_is_told_whom_to_ask_for_that_user(client, make_students, settings):
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="office")
    settings.ADMINS = [("Ram Thapa", "ram@example.com")]
    make_students(1)
    client.force_login(staff_with("view_pushrun", "push_attendance"))
    content = client.get(PUSH, {"start": "2026-12-02"}).content.decode()
    assert (
        "Pushed records are recorded as created by the user “office”, but no active user has that name. "
        "Ask Ram Thapa (ram@example.com) to add that user."
    ) in content
    assert "Add a user now" not in content


def test_the_no_superuser_message_names_what_the_nepali_admin_shows(client, make_students):
    make_students(1)
    client.force_login(staff_with("view_pushrun", "push_attendance", "view_user", "add_user", "change_user"))
    headers = {"accept-language": "ne"}
    add_page = client.get("/admin/auth/user/add/", headers=headers).content.decode()
    users_page = client.get("/admin/auth/user/", headers=headers).content.decode()
    content = client.get(PUSH, {"start": "2026-12-02"}, headers=headers).content.decode()
    # Django's own Nepali words: the sidebar's "Users", the "Add user" button, the "Superuser status" box.
    assert "<h1>प्रयोग कर्ता थप्नुहोस</h1>" in add_page
    assert ">प्रयोगकर्ता</a>" in users_page
    assert "प्रयोगकर्ता › प्रयोग कर्ता थप्नुहोस बाट एक जना थप्नुहोस् र “प्रधान प्रयोगकर्ता प्रतिष्ठा” मा चिनो" in content
    assert "Add user" not in content and "Superuser status" not in content and "Users" not in content


def test_the_history_warns_that_the_next_push_needs_a_superuser(client, settings):
    settings.ADMINS = [("Ram Thapa", "ram@example.com")]
    client.force_login(staff_with("view_pushrun"))
    content = client.get(CHANGELIST).content.decode()
    assert (
        "The next push (Thursday 3 December 2026) will fail: No active superuser to record as the creator of "
        "pushed records. Ask Ram Thapa (ram@example.com) to add one"
    ) in content
    assert "Add a user now" not in content


def test_the_history_links_a_user_who_may_add_one(client):
    client.force_login(staff_with("view_pushrun", "add_user", "change_user"))
    content = client.get(CHANGELIST).content.decode()
    assert "The next push (Thursday 3 December 2026) will fail:" in content
    assert '<a href="/admin/auth/user/add/">Add a user now</a>' in content


def test_the_history_does_not_warn_when_a_superuser_exists(superuser_client):
    assert "will fail" not in superuser_client.get(CHANGELIST).content.decode()


def test_the_history_does_not_warn_when_the_next_push_is_of_a_closed_day(client, settings):
    # Thursday is off: the push creates no records, so it records no creator either.
    settings.ATTENDANCE_PUSH = push_settings(WEEKLY_OFF=["THU"])
    client.force_login(staff_with("view_pushrun", "add_user"))
    assert "will fail" not in client.get(CHANGELIST).content.decode()


# Nepali ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime.date(2026, 12, 2), "२०८३ मंसिर १६"),
        (datetime.date(2026, 4, 14), "२०८३ वैशाख १"),  # Nepali new year 2083
        (datetime.date(2026, 4, 13), "२०८२ चैत्र ३०"),  # the last day of 2082 (checked against bikram, nepali)
        (datetime.date(2027, 4, 14), "२०८४ वैशाख १"),
    ],
)
def test_bikram_sambat_dates(day, expected):
    assert bs_date(day) == expected


def test_bikram_sambat_covers_every_day_the_pages_show():
    # The calendar shows 90 days back; runs go back further. The table must cover decades each way.
    for year in range(2000, 2040):
        assert bs_date(datetime.date(year, 6, 1)), year


def test_pages_in_nepali_show_bikram_sambat_dates(superuser_client):
    failed_run(datetime.date(2026, 12, 2))
    content = superuser_client.get(CHANGELIST, headers={"accept-language": "ne"}).content.decode()
    assert '<html lang="ne"' in content
    assert '<span class="attendance-push-bs">२०८३ मंसिर १६</span>' in content
    assert "(२०८३ मंसिर १६)" in content  # the calendar square's label
    confirmation = superuser_client.get(
        PUSH, {"start": "2026-12-02"}, headers={"accept-language": "ne"}
    ).content.decode()
    assert "२०८३ मंसिर १६" in confirmation
    english = superuser_client.get(CHANGELIST).content.decode()
    assert "२०८३" not in english


def test_the_calendar_labels_bikram_sambat_months_where_they_begin_in_nepali(superuser_client):
    weeks = superuser_client.get(CHANGELIST, headers={"accept-language": "ne"}).context["calendar_weeks"]
    starts = [week.bs_month for week in weeks if week.bs_month]
    # The calendar's first day, then Asoj 1, Kartik 1 and Mangsir 1 of 2083.
    assert starts == [
        datetime.date(2026, 9, 5),
        datetime.date(2026, 9, 17),
        datetime.date(2026, 10, 18),
        datetime.date(2026, 11, 17),
    ]
    assert [bs_date(day) for day in starts[1:]] == ["२०८३ आश्विन १", "२०८३ कार्तिक १", "२०८३ मंसिर १"]
    english = superuser_client.get(CHANGELIST).context["calendar_weeks"]
    assert not any(week.bs_month for week in english)


def test_days_outside_the_bikram_sambat_table_show_no_bs_date():
    from attendance_push.bikram import bs_month, is_bs_month_start

    far = datetime.date(1900, 1, 1)  # before BS 1975, the table's first year
    assert (bs_date(far), bs_month(far), is_bs_month_start(far)) == ("", "", False)
    assert bs_month(datetime.date(2026, 12, 2)) == "मंसिर"


def test_a_phone_reaches_the_whole_error_through_a_link_to_the_run(superuser_client):
    run = failed_run(datetime.date(2026, 12, 2), error="OperationalError: the database went away\nand more")
    content = superuser_client.get(CHANGELIST).content.decode()
    # A mouse reads the title; a phone has no hover, so the run's page, which shows the error whole, is linked.
    assert 'title="OperationalError: the database went away"' in content
    assert (
        f'<a class="attendance-push-error-whole" href="/admin/attendance_push/pushrun/{run.pk}/change/">'
        "Read the whole error</a>"
    ) in content
