"""The Nepali translation: complete, compiled as committed, placeholders intact, and used by the pages."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

import attendance_push

LOCALE = Path(attendance_push.__file__).parent / "locale" / "ne" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]?\d*(?:\.\d+)?[sdfr]|\{\w+\}")


def entries():
    return [entry for entry in polib.pofile(str(LOCALE / "django.po")) if not entry.obsolete]


def test_every_string_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(LOCALE / "django.po"))
    assert len(entries()) > 100
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert po.metadata["Language"] == "ne"


def test_the_committed_mo_is_the_compiled_po():
    compiled = {(entry.msgid, entry.msgctxt): entry for entry in polib.mofile(str(LOCALE / "django.mo"))}
    for entry in entries():
        mo = compiled.get((entry.msgid, entry.msgctxt))
        assert mo is not None, f"not compiled: {entry.msgid!r}"
        if entry.msgid_plural:
            assert mo.msgstr_plural == entry.msgstr_plural, entry.msgid
        else:
            assert mo.msgstr == entry.msgstr, entry.msgid


@pytest.mark.parametrize("entry", entries(), ids=lambda entry: entry.msgid[:40])
def test_placeholders_survive_the_translation(entry):
    if entry.msgid_plural:
        # Nepali has two forms, like English: the first for one, the second for any other number.
        pairs = [(entry.msgid, entry.msgstr_plural[0]), (entry.msgid_plural, entry.msgstr_plural[1])]
    else:
        pairs = [(entry.msgid, entry.msgstr)]
    for source, text in pairs:
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), text
        assert text.count("<strong>") == source.count("<strong>"), text


def test_django_finds_the_translation():
    with translation.override("ne"):
        assert translation.gettext("Push now") == "अहिले पुश गर्नुहोस्"
        assert translation.ngettext("Last %(days)s day", "Last %(days)s days", 90) % {"days": 90} == "पछिल्ला 90 दिन"
