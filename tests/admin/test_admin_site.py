"""The push history on a custom AdminSite: every link and redirect stays on that site."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail

from attendance_push.models import PushRun
from attendance_push.runs import run_push
from school.models import StudentAttendance
from tests.support.admin_pages import frozen_at
from tests.support.config import push_settings
from tests.support.demo import KTM
from tests.support.runs import failed_run

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.admin.custom_admin_urls")]

HISTORY = "/office/attendance_push/pushrun/"
PUSH = "/office/attendance_push/pushrun/push/"
NOW = datetime.datetime(2026, 11, 20, 14, 5, tzinfo=KTM)

frozen_time = frozen_at(NOW)


def admin_links(content: str) -> set[str]:
    """Return the links of a page that lead into an admin site (its own or another)."""
    return {
        href for href in re.findall(r'(?:href|action|src)="([^"]*)"', content) if re.match(r"/(admin|office)/", href)
    }


def assert_stays_on_the_office_site(content: str) -> None:
    links = admin_links(content)
    assert links, "the page has no admin links to check"
    assert all(link.startswith("/office/") for link in links), sorted(
        links - {x for x in links if x.startswith("/office/")}
    )


def test_the_history_links_to_the_push_pages_of_its_own_site(superuser_client):
    response = superuser_client.get(HISTORY)
    assert response.status_code == 200
    content = response.content.decode()
    assert response.context["site_header"] == "School office"
    assert f'href="{PUSH}?start=2026-11-20"' in content
    assert_stays_on_the_office_site(content)


def test_the_push_form_confirms_and_pushes_on_its_own_site(superuser_client, make_students):
    make_students(3)

    form = superuser_client.get(PUSH)
    assert form.status_code == 200 and 'name="start"' in form.content.decode()
    assert_stays_on_the_office_site(form.content.decode())

    confirmation = superuser_client.post(PUSH, {"start": "2026-11-19"})
    assert confirmation.status_code == 200
    assert f'action="{PUSH}"' in confirmation.content.decode()
    assert_stays_on_the_office_site(confirmation.content.decode())
    assert not PushRun.objects.exists()

    response = superuser_client.post(
        PUSH, {"start": "2026-11-19", "end": "2026-11-19", "confirm": "yes", "run_now": "1"}
    )
    assert response.status_code == 302 and response.url == HISTORY
    run = PushRun.objects.get()
    assert (run.status, run.created) == ("succeeded", 3)
    assert StudentAttendance.objects.filter(date=datetime.date(2026, 11, 19)).count() == 3


def test_the_rerun_action_returns_to_its_own_site(superuser_client):
    failed = failed_run(datetime.date(2026, 11, 18))
    confirmation = superuser_client.post(HISTORY, {"action": "rerun_days", "_selected_action": [failed.pk]})
    assert confirmation.status_code == 200
    assert_stays_on_the_office_site(confirmation.content.decode())

    response = superuser_client.post(HISTORY, {"action": "rerun_days", "_selected_action": [failed.pk], "post": "yes"})
    assert response.status_code == 302 and response.url == HISTORY
    assert PushRun.objects.filter(status="queued", date=datetime.date(2026, 11, 18)).count() == 1


def test_the_run_page_links_to_a_rerun_on_its_own_site_and_deleting_returns_there(superuser_client):
    run = failed_run(datetime.date(2026, 11, 18))
    page = superuser_client.get(f"{HISTORY}{run.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert f'href="{PUSH}?start=2026-11-18"' in content
    assert_stays_on_the_office_site(content)

    response = superuser_client.post(f"{HISTORY}{run.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and response.url == HISTORY
    assert not PushRun.objects.exists()


def test_the_live_status_view_is_on_its_own_site_and_links_there(superuser_client):
    failed = failed_run(datetime.date(2026, 11, 19), error="x")
    with time_machine.travel(NOW + datetime.timedelta(minutes=1), tick=False):
        fixed = PushRun.objects.create(date=failed.date, trigger="admin", status="succeeded")
    content = superuser_client.get(HISTORY).content.decode()
    assert f'data-url="{HISTORY}status/"' in content
    data = superuser_client.get(f"{HISTORY}status/", {"ids": str(failed.pk)}).json()
    assert f'href="{HISTORY}{fixed.pk}/change/"' in data["runs"][str(failed.pk)]["cells"]["error_line"]
    assert_stays_on_the_office_site(data["runs"][str(failed.pk)]["cells"]["error_line"])


@pytest.mark.parametrize(("site", "prefix"), [("office", "/office/"), (None, "/admin/")])
def test_the_failure_email_links_to_the_run_on_the_configured_admin_site(settings, site, prefix):
    settings.ADMINS = [("Head", "head@school.example")]
    extra = {"ADMIN_SITE": site} if site else {}
    settings.ATTENDANCE_PUSH = push_settings(ACTOR="ghost", SITE_URL="https://school.example", **extra)

    run = run_push(datetime.date(2026, 11, 19), trigger="schedule")

    assert run.status == "failed"
    (message,) = mail.outbox
    assert f"Run: https://school.example{prefix}attendance_push/pushrun/{run.pk}/change/" in message.body
