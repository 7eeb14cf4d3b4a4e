"""The read-only PushRun history in the admin, and the demo school's admin, through the test client."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from attendance_push.models import PushRun
from attendance_push.runs import run_push
from school.models import EmployeeAttendance, StudentAttendance
from tests.support.admin_pages import CHANGELIST, staff_with
from tests.support.alive import kept_alive
from tests.support.config import push_settings
from tests.support.demo import DAY, attendance

pytestmark = [pytest.mark.django_db, pytest.mark.clock]


def change_url(run: PushRun) -> str:
    return f"{CHANGELIST}{run.pk}/change/"


def delete_url(run: PushRun) -> str:
    return f"{CHANGELIST}{run.pk}/delete/"


def shown(response) -> set[int]:
    """The primary keys of the runs listed on a changelist page."""
    return {run.pk for run in response.context["cl"].result_list}


@pytest.fixture
def runs(superuser) -> dict[str, PushRun]:
    """One run per status, on DAY (the queued one the day before: one active run per day), with
    distinct counts and triggers; plus an October run."""
    started = datetime.datetime(2026, 11, 20, 15, 15, tzinfo=datetime.UTC)
    return {
        "queued": PushRun.objects.create(
            date=DAY - datetime.timedelta(days=1), trigger=PushRun.Trigger.ADMIN, requested_by=superuser
        ),
        "running": PushRun.objects.create(
            date=DAY, status=PushRun.Status.RUNNING, trigger=PushRun.Trigger.SCHEDULE, started_at=started
        ),
        "succeeded": PushRun.objects.create(
            date=DAY,
            status=PushRun.Status.SUCCEEDED,
            trigger=PushRun.Trigger.SCHEDULE,
            started_at=started,
            finished_at=started + datetime.timedelta(seconds=2, milliseconds=500),
            created=417,
            counts={
                "school.StudentAttendance": {"created": 400, "filled": 20, "skipped": 9},
                "school.EmployeeAttendance": {"created": 17, "filled": 3, "skipped": 0},
            },
            filled=23,
            skipped=9,
        ),
        "failed": PushRun.objects.create(
            date=DAY,
            status=PushRun.Status.FAILED,
            trigger=PushRun.Trigger.COMMAND,
            started_at=started,
            finished_at=started,
            error="OperationalError: database is locked\nsecond line of the error",
        ),
        "interrupted": PushRun.objects.create(
            date=DAY,
            status=PushRun.Status.INTERRUPTED,
            trigger=PushRun.Trigger.CATCH_UP,
            started_at=started,
            finished_at=started + datetime.timedelta(minutes=12),
            error="Interrupted: the process running this push stopped before it finished; nothing was written.",
        ),
        "october": PushRun.objects.create(
            date=datetime.date(2026, 10, 31), status=PushRun.Status.SUCCEEDED, trigger=PushRun.Trigger.CATCH_UP
        ),
    }


# The changelist


def test_changelist_shows_every_status_as_a_badge_with_day_counts_and_error(superuser_client, runs):
    # A running run whose process is gone would read "interrupted": this one's push is alive.
    with kept_alive(runs["running"]):
        response = superuser_client.get(CHANGELIST)

    assert response.status_code == 200
    assert shown(response) == {run.pk for run in runs.values()}
    content = response.content.decode()
    for status, label in PushRun.Status.choices:
        assert f'<span class="attendance-push-badge attendance-push-badge--{status}">{label}</span>' in content
    assert "attendance_push/admin.css" in content
    assert "Fri 20 Nov 2026" in content and "Sat 31 Oct 2026" in content
    assert (
        '<span class="attendance-push-count">Student attendance: <span class="nowrap">400 / 20 / 9</span></span>'
        '<span class="attendance-push-count">Employee attendance: <span class="nowrap">17 / 3 / 0</span></span>'
        "</span></td>"
    ) in content
    assert '<span class="attendance-push-duration">2.50 s</span>' in content
    assert "OperationalError: database is locked" in content
    assert "second line of the error" not in content


def test_changelist_filters_by_status(superuser_client, runs):
    response = superuser_client.get(CHANGELIST, {"status__exact": "failed"})

    assert response.status_code == 200
    assert shown(response) == {runs["failed"].pk}
    content = response.content.decode()
    assert "attendance-push-badge--failed" in content
    assert "attendance-push-badge--succeeded" not in content


def test_changelist_filters_by_trigger(superuser_client, runs):
    response = superuser_client.get(CHANGELIST, {"trigger__exact": "schedule"})

    assert response.status_code == 200
    assert shown(response) == {runs["running"].pk, runs["succeeded"].pk}


def test_changelist_date_hierarchy_narrows_to_a_month(superuser_client, runs):
    november = superuser_client.get(CHANGELIST, {"date__year": "2026", "date__month": "11"})
    october = superuser_client.get(CHANGELIST, {"date__year": "2026", "date__month": "10"})

    assert november.status_code == october.status_code == 200
    assert shown(november) == {runs[s].pk for s in ("queued", "running", "succeeded", "failed", "interrupted")}
    assert shown(october) == {runs["october"].pk}


def test_changelist_searches_the_error(superuser_client, runs):
    response = superuser_client.get(CHANGELIST, {"q": "database is locked"})

    assert response.status_code == 200
    assert shown(response) == {runs["failed"].pk}


def test_changelist_query_count_does_not_grow_with_the_runs(superuser_client):
    User = get_user_model()  # noqa: N806

    def add_runs(n: int) -> None:
        start = PushRun.objects.count()
        users = User.objects.bulk_create(User(username=f"clerk{start + i:03d}") for i in range(n))
        PushRun.objects.bulk_create(
            PushRun(date=DAY, trigger=PushRun.Trigger.ADMIN, requested_by=user, status=PushRun.Status.SUCCEEDED)
            for user in users
        )

    superuser_client.get(CHANGELIST)  # Warm the session and the content-type caches.
    counts = {}
    for total in (5, 60):
        add_runs(total - PushRun.objects.count())
        with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as captured:
            response = superuser_client.get(CHANGELIST)
        assert response.status_code == 200
        assert len(shown(response)) == total
        assert f"clerk{total - 1:03d}" in response.content.decode()
        counts[total] = len(captured.captured_queries)
    assert counts[60] == counts[5]


# The change (detail) page


def test_detail_of_a_failed_run_shows_the_error_and_the_traceback_read_only(client, make_students):
    make_students(2)
    # No superuser yet: the push cannot name a creator and fails.
    run = run_push(DAY, trigger=PushRun.Trigger.COMMAND)
    assert run.status == PushRun.Status.FAILED and "Traceback" in run.traceback
    client.force_login(get_user_model().objects.create_superuser("late", password="pw"))

    response = client.get(change_url(run))

    assert response.status_code == 200
    content = response.content.decode()
    assert escape(run.error) in content
    pre_start = content.index("<pre")
    pre_end = content.index("</pre>", pre_start)
    block = content[pre_start:pre_end]
    assert escape(run.traceback) in block
    assert "Traceback (most recent call last)" in block and "NoActorError" in block
    assert 'name="_save"' not in content
    assert 'name="_continue"' not in content


def test_detail_of_a_succeeded_run_shows_the_counts_per_target(
    superuser_client, superuser, make_students, make_employees
):
    make_students(3)
    make_employees(2)
    run = run_push(DAY, trigger=PushRun.Trigger.ADMIN, requested_by=superuser)
    assert run.status == PushRun.Status.SUCCEEDED

    response = superuser_client.get(change_url(run))

    assert response.status_code == 200
    content = response.content.decode()
    assert (
        "<th>target</th><th>created</th><th>records by rule</th><th>check-outs filled</th><th>skipped</th><th>day</th>"
        in content
    )
    cell = '<td class="attendance-push-records">'
    assert f"<tr><td>Student attendance</td><td>3</td>{cell}3 Present</td><td>0</td><td>0</td><td>open</td></tr>" in (
        content
    )
    assert f"<tr><td>Employee attendance</td><td>2</td>{cell}2 Present</td><td>0</td><td>0</td><td>open</td></tr>" in (
        content
    )
    assert "<pre" not in content  # No traceback to show.
    assert 'name="_save"' not in content


def test_detail_of_a_run_counts_the_records_of_each_rule(superuser_client, settings, superuser, make_employees):
    from school.models import Leave

    on_leave, *_others = make_employees(4)
    Leave.objects.create(employee=on_leave, first_day=DAY, last_day=DAY, approved=True)
    targets = settings.ATTENDANCE_PUSH["TARGETS"]
    suspended = {"name": "Suspended", "people": "tests.admin.test_admin_history.last_two", "skip": True}
    employees = {**targets[1], "rules": [*targets[1]["rules"], suspended]}
    settings.ATTENDANCE_PUSH = push_settings(TARGETS=[targets[0], employees])

    run = run_push(DAY, trigger=PushRun.Trigger.ADMIN, requested_by=superuser)
    content = superuser_client.get(change_url(run)).content.decode()

    cell = '<td class="attendance-push-records">'
    assert f"<tr><td>Employee attendance</td><td>2</td>{cell}1 Present, 1 Leave, 2 skipped by rule</td>" in content


def last_two(day):
    """Return the two employees created last (a skip rule of the test above)."""
    from django.db.models import Q

    from school.models import Employee

    return Q(pk__in=Employee.objects.order_by("-pk").values("pk")[:2])


# Permissions


def test_runs_cannot_be_added_through_the_admin(superuser_client):
    assert superuser_client.get(f"{CHANGELIST}add/").status_code == 403
    assert superuser_client.post(f"{CHANGELIST}add/", {"date": "2026-11-20", "trigger": "admin"}).status_code == 403
    assert not PushRun.objects.exists()


def test_posting_a_change_does_not_modify_the_run(superuser_client, runs):
    run = runs["failed"]
    before = PushRun.objects.filter(pk=run.pk).values().get()

    response = superuser_client.post(
        change_url(run),
        {
            "date": "2026-11-01",
            "status": "succeeded",
            "trigger": "admin",
            "created": "1",
            "error": "",
            "traceback": "",
            "_save": "Save",
        },
    )

    assert response.status_code == 403
    assert PushRun.objects.filter(pk=run.pk).values().get() == before


def test_a_viewer_sees_the_history_but_cannot_delete(client, runs):
    client.force_login(staff_with("view_pushrun", username="viewer"))
    run = runs["failed"]

    listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert shown(listing) == {r.pk for r in runs.values()}
    assert "delete_selected" not in listing.content.decode()
    assert client.get(change_url(run)).status_code == 200
    assert client.get(delete_url(run)).status_code == 403
    assert client.post(delete_url(run), {"post": "yes"}).status_code == 403
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [run.pk], "post": "yes"})
    assert PushRun.objects.filter(pk=run.pk).exists()


def test_staff_without_the_view_permission_cannot_see_the_history(client, runs):
    client.force_login(staff_with())

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(runs["failed"])).status_code == 403


def test_a_superuser_can_delete_a_run(superuser_client, runs):
    run = runs["failed"]

    confirm = superuser_client.get(delete_url(run))
    response = superuser_client.post(delete_url(run), {"post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert response.url == CHANGELIST  # back to the history, not the admin index
    assert not PushRun.objects.filter(pk=run.pk).exists()
    assert PushRun.objects.count() == len(runs) - 1


# The demo school's admin


@pytest.mark.parametrize("model", ["student", "employee", "studentattendance", "employeeattendance"])
def test_school_changelists_render(superuser_client, superuser, make_students, make_employees, model):
    (student,) = make_students(1)
    (employee,) = make_employees(1)
    attendance(student, status="Present", time_in=datetime.time(9, 0), created_by=superuser)
    attendance(employee, status="Absent")

    response = superuser_client.get(f"/admin/school/{model}/")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    expected = student.name if "student" in model else employee.name
    assert expected in response.content.decode()


def test_adding_student_attendance_in_the_admin_records_the_user_as_creator(client, make_students):
    clerk = get_user_model().objects.create_superuser("clerk", password="pw")
    client.force_login(clerk)
    (student,) = make_students(1)

    response = client.post(
        "/admin/school/studentattendance/add/",
        {"student": student.pk, "date": "2026-11-20", "status": "Late", "time_in": "10:05", "time_out": ""},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    record = StudentAttendance.objects.get()
    assert (record.student, record.date, record.status) == (student, DAY, "Late")
    assert record.time_in == datetime.time(10, 5) and record.time_out is None
    assert record.created_by == clerk


def test_editing_attendance_in_the_admin_keeps_the_original_creator(superuser_client, superuser, make_employees):
    original = get_user_model().objects.create_user("device", password="pw")
    (employee,) = make_employees(1)
    record = attendance(employee, status="Present", time_in=datetime.time(9, 0), created_by=original)

    response = superuser_client.post(
        f"/admin/school/employeeattendance/{record.pk}/change/",
        {"employee": employee.pk, "date": "2026-11-20", "status": "Present", "time_in": "09:00", "time_out": "16:30"},
    )

    assert response.status_code == 302
    record = EmployeeAttendance.objects.get()
    assert record.time_out == datetime.time(16, 30)
    assert record.created_by == original
