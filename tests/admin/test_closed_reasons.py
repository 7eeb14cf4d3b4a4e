"""Why a day is closed, in the reader's language: a run keeps its reasons in no language and each page words
them in its own (a run pushed in English reads in Nepali on a Nepali page, and the reverse); holiday names
come from `holidays` in the active language, wherever the calendar is shown live."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from attendance_push import workdays
from attendance_push.models import Closure, PushRun
from attendance_push.runs import run_push
from attendance_push.text import closed_days, closed_reason, counts_reason, reason_text
from tests.support.admin_pages import CHANGELIST, PUSH
from tests.support.config import push_settings
from tests.support.demo import DASHAMI, EMPLOYEES, STUDENTS, target

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_calendar")]

SATURDAY_14 = datetime.date(2026, 11, 14)  # a weekly off of the demo's calendar, two weeks before SATURDAY
NEPALI_DASHAMI = "विजया दशमी"
NEPALI_SATURDAY = "साप्ताहिक बिदा (शनिबार)"


def pushed_in(language: str, day: datetime.date) -> PushRun:
    with translation.override(language):
        return run_push(day, trigger=PushRun.Trigger.COMMAND)


def page(client, path: str, language: str, **params) -> str:
    with translation.override(language):
        return client.get(path, params, HTTP_ACCEPT_LANGUAGE=language).content.decode()


def run_pages(client, run: PushRun, language: str) -> str:
    """Return the history and the run's own page, as a reader in `language` sees them."""
    return page(client, CHANGELIST, language) + page(client, f"{CHANGELIST}{run.pk}/change/", language)


# What a run keeps -----------------------------------------------------------------------------------


def test_a_run_keeps_each_reason_in_the_pushers_words_and_in_none():
    run = pushed_in("ne", DASHAMI)
    assert run.counts[STUDENTS]["closed"] == NEPALI_DASHAMI
    assert run.counts[STUDENTS]["closed_reason"] == {
        "kind": "holiday",
        "day": "2026-10-20",
        "calendar": {"country": "NP"},
    }
    run = pushed_in("ne", SATURDAY_14)
    assert run.counts[EMPLOYEES]["closed"] == NEPALI_SATURDAY
    assert run.counts[EMPLOYEES]["closed_reason"] == {"kind": "weekly_off", "weekday": 5}
    Closure.objects.create(name="Snow", first_day=DASHAMI, last_day=DASHAMI, targets=[STUDENTS])
    run = pushed_in("en", DASHAMI)
    assert run.counts[STUDENTS]["closed_reason"] == {"kind": "closure", "name": "Snow"}
    assert run.counts[EMPLOYEES]["closed"] == "Bijaya Dashami"


# The run pages, in the reader's language --------------------------------------------------------------


def test_a_run_pushed_in_english_reads_in_nepali_on_a_nepali_page(superuser_client):
    dashami, saturday = pushed_in("en", DASHAMI), pushed_in("en", SATURDAY_14)
    for run, nepali, english in (
        (dashami, NEPALI_DASHAMI, "Bijaya Dashami"),
        (saturday, NEPALI_SATURDAY, "weekly off (Saturday)"),
    ):
        content = run_pages(superuser_client, run, "ne")
        assert f"बन्द: {nepali}" in content
        assert english not in content
        assert f"closed: {english}" in run_pages(superuser_client, run, "en")


def test_a_run_pushed_in_nepali_reads_in_english_on_an_english_page(superuser_client):
    dashami, saturday = pushed_in("ne", DASHAMI), pushed_in("ne", SATURDAY_14)
    content = run_pages(superuser_client, dashami, "en")
    assert '<span class="attendance-push-count-note">closed: Bijaya Dashami</span>' in content  # the history
    assert "<td>closed: Bijaya Dashami</td>" in content  # the run's page
    assert NEPALI_DASHAMI not in content
    content = run_pages(superuser_client, saturday, "en")
    assert "<td>closed: weekly off (Saturday)</td>" in content
    assert "शनिबार" not in content


def test_a_closures_name_reads_as_it_was_typed_in_either_language(superuser_client):
    Closure.objects.create(name="खेलकुद सप्ताह", first_day=SATURDAY_14, last_day=SATURDAY_14)
    run = pushed_in("en", SATURDAY_14)
    assert "<td>closed: खेलकुद सप्ताह</td>" in run_pages(superuser_client, run, "en")
    assert "<td>बन्द: खेलकुद सप्ताह</td>" in run_pages(superuser_client, run, "ne")


def test_a_run_kept_before_reasons_had_no_language_reads_as_stored(superuser_client):
    run = PushRun.objects.create(
        date=SATURDAY_14,
        trigger="command",
        status="succeeded",
        counts={
            label: {"created": 0, "filled": 0, "skipped": 0, "closed": "weekly off (Saturday)"}
            for label in (STUDENTS, EMPLOYEES)
        },
    )
    assert "<td>closed: weekly off (Saturday)</td>" in run_pages(superuser_client, run, "en")
    assert "<td>बन्द: weekly off (Saturday)</td>" in run_pages(superuser_client, run, "ne")


def test_push_attendance_words_the_reasons_of_its_runs_in_its_language():
    out = StringIO()
    with translation.override("ne"):
        call_command("push_attendance", "--date", "2026-10-20", stdout=out)
    assert f"school.StudentAttendance: बन्द ({NEPALI_DASHAMI}): " in out.getvalue()


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ({"kind": "holiday", "day": "2026-10-26", "calendar": {"country": "NP"}}, "stored"),  # not a holiday (any more)
        ({"kind": "holiday", "day": "2026-10-20", "calendar": {"country": "XX"}}, "stored"),  # unknown to `holidays`
        ({"kind": "holiday", "day": "20/10/2026", "calendar": {"country": "NP"}}, "stored"),
        ({"kind": "weekly_off", "weekday": 9}, "stored"),
        ({"kind": "a later version's"}, "stored"),
        ({"name": "Snow"}, "stored"),
        ({"kind": "closure", "name": "Snow"}, "Snow"),
        ({"kind": "weekly_off", "weekday": 6}, "weekly off (Sunday)"),
        ({"kind": "holiday", "day": "2026-10-20", "calendar": {"country": "NP"}}, "Bijaya Dashami"),
    ],
)
def test_a_reason_that_cannot_be_worded_falls_back_to_the_stored_words(reason, text):
    assert reason_text(reason, "stored") == text
    assert counts_reason({"closed": "stored", "closed_reason": reason}) == text


def test_a_holiday_keeps_its_calendars_subdivision_and_categories(settings, superuser_client):
    settings.ATTENDANCE_PUSH = push_settings(HOLIDAYS={"country": "US", "subdiv": "CA", "categories": ["public"]})
    run = pushed_in("ne", datetime.date(2026, 3, 31))
    assert run.counts[STUDENTS]["closed_reason"] == {
        "kind": "holiday",
        "day": "2026-03-31",
        "calendar": {"country": "US", "subdiv": "CA", "categories": ["public"]},
    }
    # `holidays` has no Nepali for the United States: the site's language (en-us) names it.
    assert run.counts[STUDENTS]["closed"] == "Cesar Chavez Day"
    assert "<td>बन्द: Cesar Chavez Day</td>" in run_pages(superuser_client, run, "ne")


def test_counts_of_an_open_day_give_no_reason():
    assert counts_reason({"created": 3}) == ""


# Live: the calendar, the confirmation, attendance_calendar ------------------------------------------------


def test_holiday_names_follow_the_active_language_and_are_cached_per_language():
    workdays._holidays_of_year.cache_clear()
    students = target(STUDENTS)
    for _ in range(2):
        with translation.override("en"):
            assert closed_reason(students, DASHAMI) == "Bijaya Dashami"
        with translation.override("ne"):
            assert closed_reason(students, DASHAMI) == NEPALI_DASHAMI
    # One year of holidays per language, however often it is asked for.
    assert workdays._holidays_of_year.cache_info().currsize == 2


def test_holiday_names_never_follow_the_servers_locale(monkeypatch):
    workdays._holidays_of_year.cache_clear()
    monkeypatch.setenv("LANG", "ne_NP.UTF-8")
    monkeypatch.setenv("LANGUAGE", "ne")
    with translation.override("en"):
        assert closed_days([target(STUDENTS)], DASHAMI, DASHAMI)[STUDENTS] == {DASHAMI: "Bijaya Dashami"}


@pytest.mark.parametrize(
    ("country", "active", "language"),
    [
        ("NP", "ne", "ne"),
        ("NP", "en", "en_US"),  # Django's "en" reads the calendar's "en_US"
        ("NP", "en-gb", "en_US"),
        ("NP", "hi", "hi"),
        ("NP", "fr", "en_US"),  # no French: the site's LANGUAGE_CODE (en-us)
        ("US", "ne", "en_US"),
        ("US", "th", "th"),
    ],
)
def test_the_holidays_language_of_the_active_language(country, active, language):
    with translation.override(active):
        assert workdays.holiday_language((("country", country), ("subdiv", None), ("categories", None))) == language


def test_the_calendars_own_language_when_neither_the_page_nor_the_site_has_one(settings):
    settings.LANGUAGE_CODE = "fr"
    with translation.override("de"):
        assert workdays.holiday_language((("country", "NP"),)) == "ne"


def test_the_history_calendar_names_the_holiday_in_nepali(superuser_client):
    content = page(superuser_client, CHANGELIST, "ne")
    cell = content.split('data-day="2026-10-20"', 1)[1].split("</a>", 1)[0]
    before = content.split('data-day="2026-10-20"', 1)[0].rsplit("<a ", 1)[1]
    assert NEPALI_DASHAMI in before + cell
    assert "Bijaya Dashami" not in content


def test_the_confirmation_names_the_holiday_in_nepali(superuser_client):
    content = page(superuser_client, PUSH, "ne", start="2026-10-20")
    assert f"विद्यार्थी हाजिरी: {NEPALI_DASHAMI}" in content
    assert "Bijaya Dashami" not in content
    assert "Student attendance: Bijaya Dashami" in page(superuser_client, PUSH, "en", start="2026-10-20")


def test_attendance_calendar_names_the_holiday_in_nepali():
    out = StringIO()
    with translation.override("ne"):
        call_command("attendance_calendar", "--from", "2026-10-20", "--to", "2026-10-20", stdout=out)
    assert out.getvalue().splitlines()[0].endswith(f"school.StudentAttendance बन्द: {NEPALI_DASHAMI}")
