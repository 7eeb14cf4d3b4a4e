"""The Nepali translations, the app's and the demo school's: complete, compiled as committed, placeholders
intact, in step with the sources, and used by the pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.utils import translation
from django.utils.functional import Promise

import attendance_push
import config
import school
from tests.support.admin_pages import PUSH

LOCALE = Path(attendance_push.__file__).parent / "locale" / "ne" / "LC_MESSAGES"
# Each catalogue: its app's folder, and how many entries it has at least (a truncated catalogue fails).
CATALOGUES = {
    "attendance_push": (Path(attendance_push.__file__).parent, 100),
    "school": (Path(school.__file__).parent, 35),
    # The demo project's: its settings' words and those Django's admin and django-q2 lack in Nepali.
    "config": (Path(config.__file__).parent, 20),
}
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]?\d*(?:\.\d+)?[sdfr]|\{\w+\}")


def po_path(app: str) -> Path:
    return CATALOGUES[app][0] / "locale" / "ne" / "LC_MESSAGES" / "django.po"


def entries(app: str = "attendance_push"):
    return [entry for entry in polib.pofile(str(po_path(app))) if not entry.obsolete]


@pytest.mark.parametrize("app", CATALOGUES)
def test_every_string_is_translated_and_none_is_fuzzy(app):
    po = polib.pofile(str(po_path(app)))
    assert len(entries(app)) > CATALOGUES[app][1]
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert po.metadata["Language"] == "ne"
    assert po.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


@pytest.mark.parametrize("app", CATALOGUES)
def test_the_committed_mo_is_the_compiled_po(app):
    mo_file = po_path(app).with_suffix(".mo")
    compiled = {(entry.msgid, entry.msgctxt): entry for entry in polib.mofile(str(mo_file))}
    for entry in entries(app):
        mo = compiled.get((entry.msgid, entry.msgctxt))
        assert mo is not None, f"not compiled: {entry.msgid!r}"
        if entry.msgid_plural:
            assert mo.msgstr_plural == entry.msgstr_plural, entry.msgid
        else:
            assert mo.msgstr == entry.msgstr, entry.msgid


@pytest.mark.parametrize(
    "entry",
    [entry for app in CATALOGUES for entry in entries(app)],
    ids=lambda entry: entry.msgid[:40],
)
def test_placeholders_survive_the_translation(entry):
    if entry.msgid_plural:
        # Nepali has two forms, like English: the first for one, the second for any other number.
        pairs = [(entry.msgid, entry.msgstr_plural[0]), (entry.msgid_plural, entry.msgstr_plural[1])]
    else:
        pairs = [(entry.msgid, entry.msgstr)]
    for source, text in pairs:
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), text
        assert text.count("<strong>") == source.count("<strong>"), text


@pytest.mark.parametrize("app", CATALOGUES)
def test_the_catalogue_holds_every_string_of_the_sources_and_no_other(app, tmp_path):
    """What `make messages` would extract now is what the committed catalogue holds: a new string fails here."""
    if not shutil.which("xgettext"):
        pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    folder = CATALOGUES[app][0]
    copy = tmp_path / app
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    # The django-admin script, as `make messages` runs it: `python -m django` would put the copy first on
    # sys.path, where the app's calendar.py hides the standard library's.
    django_admin = Path(sys.executable).parent / "django-admin"
    subprocess.run(
        [str(django_admin), "makemessages", "-l", "ne", "--no-obsolete", "--add-location", "file"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    extracted = {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(copy / "locale/ne/LC_MESSAGES/django.po"))}
    committed = {(entry.msgctxt, entry.msgid) for entry in entries(app)}
    assert sorted(extracted - committed, key=str) == [], "run `make messages` and translate the new strings"
    assert sorted(committed - extracted, key=str) == [], "run `make messages`: these strings left the sources"


def demo_strings():
    """Yield (where, text) for every name, help text and choice label the demo school's admin shows."""
    config = apps.get_app_config("school")
    yield "school app", config.verbose_name
    for model in config.get_models():
        meta = model._meta
        yield f"{meta.label} verbose_name", meta.verbose_name
        yield f"{meta.label} verbose_name_plural", meta.verbose_name_plural
        for field in meta.get_fields():
            if field.auto_created:
                continue  # the id and reverse relations: Django's own words
            yield f"{meta.label}.{field.name} verbose_name", field.verbose_name
            if field.help_text:
                yield f"{meta.label}.{field.name} help_text", field.help_text
            for _value, label in field.flatchoices:
                yield f"{meta.label}.{field.name} choice", label


@pytest.mark.parametrize(("where", "text"), list(demo_strings()), ids=lambda value: str(value)[:50])
def test_every_name_the_demo_admin_shows_is_translated(where, text):
    assert isinstance(text, Promise), f"{where} is not marked for translation (gettext_lazy): {text!r}"
    with translation.override("en"):
        english = str(text)
    with translation.override("ne"):
        nepali = str(text)
    assert nepali != english, f"{where} has no Nepali translation: {english!r}"
    assert re.search("[\u0900-\u097f]", nepali), f"{where} is not in Devanagari: {nepali!r}"


def test_django_finds_the_translation():
    with translation.override("ne"):
        assert translation.gettext("Push now") == "अहिले पुश गर्नुहोस्"
        assert translation.ngettext("Last %(days)s day", "Last %(days)s days", 90) % {"days": 90} == "पछिल्ला 90 दिन"


def test_the_demo_admin_is_in_nepali(admin_client):
    with translation.override("ne"):
        content = admin_client.get("/admin/school/studentattendance/add/", HTTP_ACCEPT_LANGUAGE="ne").content.decode()
    for text in ("विद्यार्थी हाजिरी", "विद्यार्थी", "मिति", "स्थिति", "चेक-इन", "चेक-आउट", "उपस्थित", "अनुपस्थित", "बिदा"):
        assert text in content, text
    for english in (">Student attendance<", ">Status:<", ">Check-in:<", ">Present<"):
        assert english not in content, english


def test_the_push_pages_name_the_demo_targets_in_nepali(admin_client):
    from attendance_push.models import Closure

    Closure.objects.create(
        name="खेलकुद सप्ताह", first_day="2026-11-19", last_day="2026-11-19", targets=["school.StudentAttendance"]
    )
    with translation.override("ne"):
        closures = admin_client.get("/admin/attendance_push/closure/", HTTP_ACCEPT_LANGUAGE="ne").content.decode()
        confirmation = admin_client.get(
            "/admin/attendance_push/pushrun/push/", {"start": "2026-11-19"}, HTTP_ACCEPT_LANGUAGE="ne"
        ).content.decode()
    assert "विद्यार्थी हाजिरी" in closures
    assert "विद्यार्थी हाजिरी" in confirmation and "कर्मचारी हाजिरी" in confirmation
    assert "Student attendance" not in confirmation


def test_the_demo_settings_words_are_in_nepali(superuser_client, make_employees):
    make_employees(1)
    headers = {"accept-language": "ne"}
    content = superuser_client.get(PUSH, {"start": "2026-11-19"}, headers=headers).content.decode()
    # The rule's name (ATTENDANCE_PUSH's rules) and django-q2's label (Q_CLUSTER), both from config/settings.py.
    assert "कर्मचारी हाजिरी, बिदामा:" in content
    assert "On leave" not in content
    index = superuser_client.get("/admin/", headers=headers).content.decode()
    assert "कार्य लाइन" in index and "सफल कार्यहरू" in index
    assert "Task queue" not in index and "Successful tasks" not in index
    with translation.override("en"):
        english = superuser_client.get(PUSH, {"start": "2026-11-19"}).content
    assert "Employee attendance, On leave:" in english.decode()


def test_django_admin_words_missing_from_its_nepali_catalogue_are_supplied(superuser_client):
    headers = {"accept-language": "ne"}
    history = superuser_client.get("/admin/attendance_push/pushrun/", headers=headers).content.decode()
    assert "सङ्ख्या देखाउनुहोस्" in history  # Show counts
    assert "छान्न टाइप गर्न थाल्नुहोस्…" in history  # Start typing to filter…
    assert "Show counts" not in history and "Start typing to filter" not in history
    add = superuser_client.post("/admin/attendance_push/closure/add/", {"name": ""}, headers=headers)
    assert add.status_code == 200
    assert "कृपया तलका त्रुटिहरू सच्याउनुहोस्।" in add.content.decode()
    assert "Please correct" not in add.content.decode()
    with translation.override("ne"):
        assert translation.ngettext("Please correct the error below.", "Please correct the errors below.", 1) == (
            "कृपया तलको त्रुटि सच्याउनुहोस्।"
        )
