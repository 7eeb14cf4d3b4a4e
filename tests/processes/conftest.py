"""Fixtures of the tests that start real processes."""

from __future__ import annotations

import datetime

import pytest

from tests.support.config import push_settings
from tests.support.demo import schedule_next_run
from tests.support.processes import zone_at_noon


@pytest.fixture
def noon_zone(settings, transactional_db) -> str:
    """Push in a zone where it is about noon now, schedules included; return the zone's name.

    For tests that start workers: `process_env` (tests/support/processes.py) hands the zone to their processes.
    """
    zone = zone_at_noon()
    settings.ATTENDANCE_PUSH = push_settings(TIME_ZONE=zone)
    schedule_next_run(datetime.datetime.now(datetime.UTC))
    return zone
