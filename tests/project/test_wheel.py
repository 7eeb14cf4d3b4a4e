"""docs/install.md, "Add it to an existing project", done for real: the app as a wheel in someone else's project.

Build the wheel from a copy of the repository, install it (and, through its own dependencies, Django
and django-q2 at the versions of requirements.txt) into a fresh virtualenv, and set it up in a copy of
the test host project (`tests/hostproject`), where the repository is not on the path: check, migrate,
createcachetable, createsuperuser, push_attendance (dry run, then for real), the admin pages, and a
qcluster worker that runs a push queued from the admin. Everything the host runs comes from the wheel.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.processes import ROOT, stop

pytestmark = pytest.mark.process

HOST = ROOT / "tests" / "hostproject"
# What a developer's checkout holds besides the sources; none of it belongs in a build.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".*cache",
    ".coverage*",
    "htmlcov",
    "staticfiles",
    "test-artifacts",
    "*.sqlite3",
    ".env",
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a process outside this repository: no PYTHONPATH, settings module or coverage."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "DJANGO_", "COVERAGE_", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


def run(args: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def shell_json(manage, code: str, **env: str) -> dict:
    """Run `code` in the host's `manage.py shell`; return the JSON it printed last."""
    return json.loads(manage("shell", "-c", code, **env).strip().splitlines()[-1])


SEED = """
import datetime, os
from hr.models import DailyAttendance, Staff
Staff.objects.bulk_create([Staff(full_name="Asha"), Staff(full_name="Bikash"), Staff(full_name="Chandra")])
Staff.objects.create(full_name="Dipak", active=False)
# Chandra clocked in (working remotely) and never clocked out: the push fills the check-out only.
DailyAttendance.objects.create(
    staff=Staff.objects.get(full_name="Chandra"), day=os.environ["DAY"], state="remote", clock_in=datetime.time(11)
)
print("{}")
"""

INSPECT = """
import importlib.util, json, os, sysconfig
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client
from django.test.utils import setup_test_environment
from django_q.models import Schedule
import attendance_push
from attendance_push.models import PushRun
from hr.models import DailyAttendance


def translation_in(language, text):
    from django.utils import translation
    with translation.override(language):
        return translation.gettext(text)


def row(record):
    recorder = record.recorded_by.username if record.recorded_by else None
    return [record.staff.full_name, record.state, f"{record.clock_in:%H:%M}", f"{record.clock_out:%H:%M}", recorder]


setup_test_environment()  # records the templates each response rendered
client = Client()
client.force_login(get_user_model().objects.get(username="boss"))
run = PushRun.objects.get(date=os.environ["DAY"])
pages = {
    "history": client.get("/admin/attendance_push/pushrun/"),
    "run": client.get(f"/admin/attendance_push/pushrun/{run.pk}/change/"),
    "push form": client.get("/admin/attendance_push/pushrun/push/"),
    "confirmation": client.get("/admin/attendance_push/pushrun/push/?start=" + os.environ["OTHER_DAY"]),
}
print(json.dumps({
    "app": attendance_push.__file__,
    "site_packages": sysconfig.get_paths()["purelib"],
    "project_modules": [name for name in ("config", "school") if importlib.util.find_spec(name)],
    "records": sorted(map(row, DailyAttendance.objects.filter(day=os.environ["DAY"]).select_related("staff"))),
    "other_day_records": DailyAttendance.objects.filter(day=os.environ["OTHER_DAY"]).count(),
    "runs": [[f"{r.date}", r.status, r.trigger, r.created, r.filled, r.skipped] for r in PushRun.objects.all()],
    "schedules": {s.name: [s.func, s.schedule_type, s.next_run.isoformat()] for s in Schedule.objects.all()},
    "status": {name: response.status_code for name, response in pages.items()},
    "templates": {
        t.name: t.origin.name
        for response in pages.values()
        for t in response.templates
        if t.name and t.name.startswith("admin/attendance_push/")
    },
    "stylesheet": finders.find("attendance_push/admin.css"),
    "history_has_stylesheet": "attendance_push/admin.css" in pages["history"].text,
    "history_says_no_worker": "No worker is running" in pages["history"].text,
    "history_offers_push": "Push now" in pages["history"].text,
    "preview": "What the push will do" in pages["confirmation"].text,
    "nepali": translation_in("ne", "Push now"),
}))
"""

QUEUE_FROM_ADMIN = """
import json, os, time
from django.contrib.auth import get_user_model
from django.test import Client
from attendance_push.health import running_clusters
from attendance_push.models import PushRun
from hr.models import DailyAttendance

day = os.environ["OTHER_DAY"]
deadline = time.monotonic() + 60
while not running_clusters():  # the worker's stats, read through the shared cache
    assert time.monotonic() < deadline, "the admin never saw the worker"
    time.sleep(0.5)
client = Client()
client.force_login(get_user_model().objects.get(username="boss"))
history = client.get("/admin/attendance_push/pushrun/")
confirm = {"start": day, "end": day, "confirm": "yes", "queue": "yes"}
answer = client.post("/admin/attendance_push/pushrun/push/", confirm)
run = PushRun.objects.get(date=day)
handed_to_worker = bool(run.task_id)
while run.status in ("queued", "running"):
    assert time.monotonic() < deadline + 60, f"the worker never finished run {run.pk}: {run.status}"
    time.sleep(0.5)
    run.refresh_from_db()
print(json.dumps({
    "history_says_no_worker": "No worker is running" in history.text,
    "answer": [answer.status_code, answer.get("Location")],
    "handed_to_worker": handed_to_worker,
    "run": [run.status, run.trigger, run.requested_by.username, run.created, run.filled, run.error],
    "records": DailyAttendance.objects.filter(day=day, state="present", recorded_by__username="boss").count(),
}))
"""


def build_wheel(tmp_path: Path) -> Path:
    """`pip wheel --no-deps .` in a copy of the checkout (the build writes build/ and *.egg-info beside the sources)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    # Build isolation, as a developer's `pip wheel .`: pip installs the [build-system] requirements.
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist", source],
        cwd=tmp_path,
        env=clean_env(),
    )
    (wheel,) = (tmp_path / "dist").glob("attendance_push-*.whl")
    return wheel


def check_wheel_files(wheel: Path) -> None:
    """The wheel holds attendance_push whole (templates, static files, migrations) and nothing else."""
    names = zipfile.ZipFile(wheel).namelist()
    packaged = {name for name in names if not name.startswith("attendance_push-")}
    assert all(name.startswith("attendance_push-") and ".dist-info/" in name for name in set(names) - packaged), names
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "attendance_push").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert packaged == sources
    assert {
        "attendance_push/migrations/0001_initial.py",
        "attendance_push/static/attendance_push/admin.css",
        "attendance_push/templates/admin/attendance_push/pushrun/change_list.html",
        "attendance_push/templates/admin/attendance_push/pushrun/push_confirmation.html",
        "attendance_push/management/commands/push_attendance.py",
        "attendance_push/locale/ne/LC_MESSAGES/django.po",
        "attendance_push/locale/ne/LC_MESSAGES/django.mo",
    } <= packaged


def test_the_wheel_installs_into_another_project_and_pushes(tmp_path):
    wheel = build_wheel(tmp_path)
    check_wheel_files(wheel)

    # A fresh virtualenv that sees neither this repository nor its virtualenv.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=clean_env())
    python = venv / "bin" / "python"
    # The wheel brings Django and django-q2 as its dependencies, pinned here to the project's versions.
    run(
        [python, "-m", "pip", "install", "--quiet", wheel, "--constraint", ROOT / "requirements.txt"],
        cwd=tmp_path,
        env=clean_env(),
    )
    run([python, "-m", "pip", "check"], cwd=tmp_path, env=clean_env())

    host = tmp_path / "host"
    shutil.copytree(HOST, host, ignore=NOT_SOURCES)
    assert not (host / "attendance_push").exists()
    kathmandu_today = datetime.datetime.now(ZoneInfo("Asia/Kathmandu")).date()
    day, other_day = kathmandu_today - datetime.timedelta(days=1), kathmandu_today - datetime.timedelta(days=2)
    env = clean_env(
        DATABASE_URL=f"sqlite:///{host / 'db.sqlite3'}",
        DJANGO_SUPERUSER_PASSWORD="not-a-secret",
        DAY=f"{day}",
        OTHER_DAY=f"{other_day}",
    )

    def manage(*args: str, **extra: str) -> str:
        return run([python, "manage.py", *args], cwd=host, env={**env, **extra})

    assert "System check identified no issues" in manage("check", "--fail-level", "WARNING")
    migrated = manage("migrate", "--noinput", "-v", "2")
    assert "Applying attendance_push.0001_initial... OK" in migrated
    assert "Created schedule attendance_push.daily: next push" in migrated
    assert "18:30 Asia/Kathmandu (12:45 UTC)" in migrated
    manage("createcachetable")
    manage("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com")
    shell_json(manage, SEED)

    assert "hr.DailyAttendance: 3 created, 0 check-outs filled, 0 skipped" in manage("push_attendance", "--dry-run")
    dry = manage("push_attendance", "--dry-run", "--date", f"{day}")
    assert f"{day} would push:\n  hr.DailyAttendance: 2 created, 1 check-outs filled, 0 skipped" in dry
    pushed = manage("push_attendance", "--date", f"{day}")
    assert "hr.DailyAttendance: 2 created, 1 check-outs filled, 0 skipped" in pushed

    found = shell_json(manage, INSPECT)
    site_packages = Path(found["site_packages"]).resolve()
    assert Path(found["app"]).resolve().is_relative_to(site_packages), found["app"]
    assert site_packages.is_relative_to(venv.resolve())
    assert found["project_modules"] == []
    # One record per active staff member, shaped by hostsite's ATTENDANCE_PUSH; Dipak is inactive.
    assert found["records"] == [
        ["Asha", "present", "10:00", "18:00", "boss"],
        ["Bikash", "present", "10:00", "18:00", "boss"],
        ["Chandra", "remote", "11:00", "18:00", None],
    ]
    assert found["other_day_records"] == 0, "the confirmation page is a dry run"
    assert found["runs"] == [[f"{day}", "succeeded", "command", 2, 1, 0]]
    # The daily push at 18:30 in Asia/Kathmandu (12:45 UTC), wherever the server (America/New_York here).
    daily_func, daily_type, daily_next = found["schedules"]["attendance_push.daily"]
    next_run = datetime.datetime.fromisoformat(daily_next)
    assert (daily_func, daily_type) == ("attendance_push.tasks.scheduled_push", "D")
    assert (next_run.astimezone(datetime.UTC).hour, next_run.astimezone(datetime.UTC).minute) == (12, 45)
    assert next_run.astimezone(ZoneInfo("Asia/Kathmandu")).time() == datetime.time(18, 30)
    assert datetime.timedelta(0) < next_run - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(days=1)
    assert found["schedules"]["attendance_push.catch_up"][:2] == ["attendance_push.tasks.catch_up", "I"]
    # The admin pages, rendered from the wheel's templates, with its stylesheet.
    assert found["status"] == {"history": 200, "run": 200, "push form": 200, "confirmation": 200}
    assert set(found["templates"]) >= {
        "admin/attendance_push/pushrun/change_list.html",
        "admin/attendance_push/pushrun/calendar.html",
        "admin/attendance_push/pushrun/change_form.html",
        "admin/attendance_push/pushrun/push_form.html",
        "admin/attendance_push/pushrun/push_confirmation.html",
    }
    for origin in [*found["templates"].values(), found["stylesheet"]]:
        assert Path(origin).resolve().is_relative_to(site_packages / "attendance_push"), origin
    assert found["history_has_stylesheet"]
    assert found["history_says_no_worker"]
    assert found["history_offers_push"]
    assert found["preview"]
    assert found["nepali"] == "अहिले पुश गर्नुहोस्", "the compiled Nepali translation ships in the wheel"

    # The worker: the admin sees it through the shared cache, and it runs a push queued from the admin.
    log = tmp_path / "qcluster.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [python, "manage.py", "qcluster"],
            cwd=host,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        queued = shell_json(manage, QUEUE_FROM_ADMIN)
    except AssertionError as error:
        raise AssertionError(f"{error}\nqcluster:\n{log.read_text()[-3000:]}") from None
    finally:
        stop(worker)
    assert queued["history_says_no_worker"] is False
    assert queued["answer"] == [302, "/admin/attendance_push/pushrun/"]
    assert queued["handed_to_worker"]
    assert queued["run"] == ["succeeded", "admin", "boss", 3, 0, ""], log.read_text()[-3000:]
    assert queued["records"] == 3
