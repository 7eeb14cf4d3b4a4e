"""The push form's dates in a real browser, in English and in Nepali: the field takes year-month-day
only, the chosen day is said in words by the server (Nepali names and the Bikram Sambat date on a
Nepali page, where Chromium itself has no Nepali), and 01122026 is refused instead of read as 12 January."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import translation

from attendance_push.bikram import bs_date
from attendance_push.days import today
from attendance_push.forms import iso_day_error
from attendance_push.models import PushRun
from attendance_push.templatetags.attendance_push import day_words
from tests.support.browser import (  # noqa: F401 (the fixture browser)
    ARTIFACTS,
    PHONE,
    PUSH,
    Page,
    assert_fits,
    browser,
    expect,
    log_in_nepali,
)

pytestmark = [pytest.mark.process, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["en", "ne"])
def language(request) -> str:
    return request.param


@pytest.fixture
def phone(browser, live_server, language) -> Iterator[Page]:  # noqa: F811
    # The browser's own locale is en-US in both: its date picker would show mm/dd/yyyy on either page.
    context = browser.new_context(base_url=live_server.url, viewport={"width": PHONE, "height": 844}, locale="en-US")
    # The page's language as Django's language switch leaves it.
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_typed_day_is_said_in_words_and_a_misread_is_refused(phone, superuser, make_students, language):
    page = phone
    make_students(1)
    day = today() - datetime.timedelta(days=2)
    with translation.override(language):
        words_today, words_day, hint = day_words(today()), day_words(day), iso_day_error()
    if language == "ne":
        # Nepali through and through: no English weekday or month, and the Bikram Sambat date.
        assert not re.search("[A-Za-z]", words_day) and f"({bs_date(day)})" in words_day
    log_in_nepali(page, "root")
    page.goto(PUSH)
    expect(page.locator("html")).to_have_attribute("lang", language)
    field = page.locator("#id_start")
    words = page.locator('.attendance-push-weekday-of[data-for="id_start"]')
    expect(field).to_have_attribute("type", "text")
    expect(field).to_have_value(f"{today():%Y-%m-%d}")
    expect(words).to_have_text(words_today)

    # 1 December typed as an mm/dd/yyyy date picker takes it, which it would read as 12 January.
    field.fill("")
    field.press_sequentially("01122026")
    expect(words).to_have_text(hint)
    page.locator('input[type="submit"].default').click()
    expect(page.locator(".errorlist")).to_have_text(hint)
    expect(field).to_have_value("01122026")
    expect(page.locator('input[name="confirm"]')).to_have_count(0)
    # Nor the 1 December of another country's order.
    field.fill("")
    field.press_sequentially("01/12/2026")
    expect(words).to_have_text(hint)

    # Year-month-day: the words say which day it is.
    field.fill("")
    field.press_sequentially(f"{day:%Y-%m-%d}")
    expect(words).to_have_text(words_day)
    assert_fits(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"push-form-{language}-390.png", full_page=True)
    page.locator('input[type="submit"].default').click()
    expect(page.locator('input[name="confirm"]')).to_have_count(1)
    assert not PushRun.objects.exists()
