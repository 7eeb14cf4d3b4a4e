"""One effect per day, whoever pushes: real processes racing for the same day.

The host here is the test host project (`tests/hostproject`), whose attendance model has no unique
constraint on (staff, day): only the push's day lock keeps each person's record single.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.processes import ROOT, patience, shell
from tests.support.races import holding_writes, racers_waiting
from tests.support.servers import postgres_database

pytestmark = pytest.mark.process

HOST = ROOT / "tests" / "hostproject"
STAFF, INACTIVE = 5000, 250


def host_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hostsite.settings",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }


def host_manage(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=HOST,
        env=host_env(url),
        capture_output=True,
        text=True,
        # Only a guard against a hang: migrate and a seed of 5,000 people are a few start-ups' worth.
        timeout=patience(starts=10),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def host_shell(url: str, code: str) -> object:
    """Run `code` in the host project's shell; return what it printed, as JSON."""
    return json.loads(host_manage(url, "shell", "-c", code).strip().splitlines()[-1])


SEED = f"""
from django.contrib.auth import get_user_model
from hr.models import Staff
get_user_model().objects.create_superuser("boss", password="pw")
Staff.objects.bulk_create(
    [Staff(full_name=f"Staff {{n}}", active=n >= {INACTIVE}) for n in range({STAFF})], batch_size=1000
)
print(Staff.objects.filter(active=True).count())
"""

PUSH = """
import datetime
from attendance_push.push import push
print(push(datetime.date.fromisoformat("{day}")).created)
"""

RESULT = """
import json
from django.db.models import Count
from hr.models import DailyAttendance
day = "{day}"
records = DailyAttendance.objects.filter(day=day)
print(json.dumps({{
    "records": records.count(),
    "duplicated_staff": records.values("staff").annotate(n=Count("id")).filter(n__gt=1).count(),
    "inactive": records.filter(staff__active=False).count(),
}}))
"""


@contextlib.contextmanager
def host_database(vendor: str, tmp_path: Path):
    if vendor == "postgresql":
        with postgres_database("attendance_push_hr") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'host.sqlite3'}"


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_four_concurrent_pushes_create_one_record_per_person(vendor, tmp_path):
    day = datetime.datetime.now(ZoneInfo("Asia/Kathmandu")).date() - datetime.timedelta(days=1)
    with host_database(vendor, tmp_path) as url:
        host_manage(url, "migrate", "--noinput", "-v", "0")
        active = host_shell(url, SEED)
        with holding_writes(url, "hr_dailyattendance"):
            # The push itself, not push_attendance: the history allows one running run per day, so
            # four commands would be refused before they race (test_fault_runs).
            racers = [shell(PUSH.format(day=day), env=host_env(url), cwd=HOST) for _ in range(4)]
            deadline = time.monotonic() + patience(starts=4)  # four start-ups side by side
            while not racers_waiting(url, day, 4):
                assert time.monotonic() < deadline, "the four pushes never all started"
                time.sleep(0.2)
        # Four start-ups, then four pushes of 5,000 people one after the other (each under a second).
        outputs = [racer.communicate(timeout=patience(starts=4, work=4.0)) for racer in racers]
        assert [racer.returncode for racer in racers] == [0, 0, 0, 0], outputs

        result = host_shell(url, RESULT.format(day=day))

    assert active == STAFF - INACTIVE
    assert result["records"] == active
    assert result["duplicated_staff"] == 0
    assert result["inactive"] == 0
    # The first did the work, the three that waited for the day's lock found nothing to do.
    assert sorted(int(racer_out.strip().splitlines()[-1]) for racer_out, _err in outputs) == [0, 0, 0, active]
