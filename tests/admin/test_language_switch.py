"""The demo admin's English / नेपाली switch: Django's set_language view, read back by LocaleMiddleware."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from tests.support.admin_pages import CHANGELIST

pytestmark = pytest.mark.django_db


def switch_buttons(content: str) -> list[str]:
    form = re.search(r'<form class="language-switch" action="/i18n/setlang/" method="post">(.*?)</form>', content, re.S)
    assert form, "no language switch on the page"
    return re.findall(r"<button[^>]*>[^<]*</button>", form.group(1))


def test_every_admin_page_offers_english_and_nepali(superuser_client):
    content = superuser_client.get(CHANGELIST).content.decode()
    assert switch_buttons(content) == [
        '<button type="submit" name="language" value="en" lang="en" aria-current="true" disabled>English</button>',
        '<button type="submit" name="language" value="ne" lang="ne">नेपाली</button>',
    ]
    assert f'<input type="hidden" name="next" value="{CHANGELIST}">' in content


def test_the_login_page_offers_it_too(client):
    content = client.get("/admin/login/", headers={"accept-language": "ne"}).content.decode()
    buttons = switch_buttons(content)
    assert 'value="ne" lang="ne" aria-current="true" disabled>नेपाली' in buttons[1]


def test_choosing_nepali_outlasts_an_english_browser(superuser_client):
    english = {"accept-language": "en"}
    response = superuser_client.post("/i18n/setlang/", {"language": "ne", "next": CHANGELIST}, headers=english)
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert superuser_client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ne"
    content = superuser_client.get(CHANGELIST, headers=english).content.decode()
    assert '<html lang="ne"' in content
    assert "अहिले पुश गर्नुहोस्" in content
    assert 'value="ne" lang="ne" aria-current="true" disabled>नेपाली' in content
    # And back.
    superuser_client.post("/i18n/setlang/", {"language": "en", "next": CHANGELIST}, headers=english)
    assert '<html lang="en"' in superuser_client.get(CHANGELIST, headers={"accept-language": "ne"}).content.decode()


def test_a_foreign_next_is_not_followed(superuser_client):
    response = superuser_client.post("/i18n/setlang/", {"language": "ne", "next": "https://example.com/"})
    assert response.status_code == 302 and "example.com" not in response["Location"]
