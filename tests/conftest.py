"""What every test starts from: the pinned clock, the site's language, the test database's schedules, and the
demo's fixtures (tests/support/demo.py)."""

from __future__ import annotations

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import translation

from tests.support.demo import (  # noqa: F401 (fixtures for every test)
    PINNED_NOW,
    demo_calendar,
    make_employees,
    make_students,
    monday_afternoon,
    people,
    pusher,
    schedule_next_run,
    superuser,
    superuser_client,
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests that wait longest first: those marked `long`, then the others that start real processes.

    In a parallel run (make test) a worker then waits on them while the others run the rest, instead of one
    worker starting a long wait when the rest is done. pytest-django orders the tests by how they use the
    database after this (its sort is stable), so this order holds within each of its kinds.
    """
    items.sort(key=lambda item: (not item.get_closest_marker("long"), not item.get_closest_marker("process")))


@pytest.fixture(autouse=True)
def pinned_clock(request):
    """Start each in-process test at PINNED_NOW, whatever the wall clock and TZ say.

    The clock keeps ticking from there. Tests marked `process` start real processes, whose clocks
    cannot be moved: they pin what they depend on instead (see `noon_zone` in tests/processes/conftest.py).
    """
    if request.node.get_closest_marker("process"):
        yield
        return
    with time_machine.travel(PINNED_NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def default_language():
    """End each test in the site's language.

    A test client's request in Nepali (LocaleMiddleware) leaves Nepali active in the test's thread,
    as a web worker's thread keeps it until its next request: without this, the next test would read
    Nepali where it expects English.
    """
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Register the plugin's schedules as at PINNED_NOW; migrate registered them at the wall-clock time."""
    with django_db_blocker.unblock(), time_machine.travel(PINNED_NOW, tick=False):
        schedule_next_run(PINNED_NOW)
