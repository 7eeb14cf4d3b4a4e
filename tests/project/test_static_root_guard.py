"""A STATIC_ROOT that would publish the project is refused where it matters: the settings refuse to load (so
gunicorn never serves), and E022 catches every folder of the project but staticfiles/. MAX_PAST_DAYS has a
ceiling (E023)."""

from __future__ import annotations

import os
import signal
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from attendance_push.checks import check_settings, check_static_root
from tests.support.processes import ROOT, free_port, patience
from tests.support.settings_process import read, start

from .test_static_files import SECRETS, VENV_BIN, deployed_copy, get

pytestmark = pytest.mark.process

PROJECT_FOLDERS = [".", ".git", "config", "school", "attendance_push", "templates", "deploy", "staticfiles/..", ".."]


# --- the settings refuse to load ----------------------------------------------------------------------------


@pytest.mark.parametrize("static_root", [*PROJECT_FOLDERS, "/"])
def test_the_settings_refuse_a_static_root_over_the_project_or_a_folder_of_it(static_root):
    completed = start({"SECRET_KEY": "settings-test-key", "STATIC_ROOT": static_root}, "STATIC_ROOT")
    assert completed.returncode != 0
    assert "ImproperlyConfigured: STATIC_ROOT" in completed.stderr
    assert completed.stdout == ""


def test_the_settings_refuse_a_static_root_holding_the_database_or_the_env_file(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    for env in ({"DATABASE_URL": f"sqlite:///{public / 'db.sqlite3'}"}, {"ENV_FILE": str(public / ".env")}):
        completed = start({"SECRET_KEY": "settings-test-key", "STATIC_ROOT": str(public), **env}, "STATIC_ROOT")
        assert completed.returncode != 0, env
        assert "ImproperlyConfigured: STATIC_ROOT" in completed.stderr, env


@pytest.mark.parametrize("static_root", ["staticfiles", "staticfiles/v2", "../elsewhere/static"])
def test_the_settings_accept_the_collected_static_folder_or_one_outside_the_project(static_root):
    assert read({"STATIC_ROOT": static_root}, "STATIC_ROOT") == {"STATIC_ROOT": str((ROOT / static_root).resolve())}


@pytest.mark.parametrize("static_root", [".", "config"])
def test_gunicorn_refuses_to_start_with_a_static_root_over_the_project(static_root, tmp_path):
    project = deployed_copy(tmp_path / "srv")
    (project / "db.sqlite3").write_bytes(b"SQLite format 3\0")
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "static-files-test-key",
        "DATABASE_URL": f"sqlite:///{project / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "localhost",
        "STATIC_ROOT": static_root,
    }
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        gunicorn = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = {}
    try:
        try:
            gunicorn.wait(timeout=patience(starts=2))
        except subprocess.TimeoutExpired:
            served = {path: get(port, path) for path in SECRETS}  # still up: what does it hand out?
        exited = gunicorn.poll()
    finally:
        if gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait(timeout=10)
    output = log.read_text()
    assert exited not in (None, 0), (served, output[-3000:])
    assert "ImproperlyConfigured: STATIC_ROOT" in output


# --- attendance_push.E022 catches every folder of the project but staticfiles/ ----------------------------


@pytest.mark.parametrize("folder", [".git", "config", "school", "templates", "deploy", "docs", "tests/variants"])
def test_e022_refuses_every_folder_of_the_project_but_the_collected_static_one(folder):
    with override_settings(STATIC_ROOT=str(ROOT / folder)):
        errors = check_static_root()
    assert [error.id for error in errors] == ["attendance_push.E022"]
    assert str((ROOT / folder).resolve()) in errors[0].msg and "staticfiles" in errors[0].hint


@pytest.mark.parametrize("folder", [".git", "config", "school"])
def test_check_deploy_fails_on_a_folder_of_the_project(folder):
    with override_settings(STATIC_ROOT=str(ROOT / folder)), pytest.raises(SystemCheckError) as excinfo:
        call_command("check", "--deploy", "--tag", "security", stdout=StringIO(), stderr=StringIO())
    assert "attendance_push.E022" in str(excinfo.value)


def test_e022_accepts_the_collected_static_folder_and_what_is_in_it():
    for static_root in (ROOT / "staticfiles", ROOT / "staticfiles" / "v2"):
        with override_settings(STATIC_ROOT=str(static_root)):
            assert check_static_root() == [], static_root


def test_e022_refuses_a_static_root_holding_an_sqlite_database(settings, tmp_path):
    # A database in a folder of its own, away from the project wherever it is checked out (under /tmp too,
    # where the suite's own SQLite file lives: that folder would hold the project and say so first).
    database = tmp_path / "data" / "archive.sqlite3"
    databases = {**settings.DATABASES, "archive": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}}
    with override_settings(DATABASES=databases, STATIC_ROOT=str(database.parent)):
        errors = check_static_root()
    assert [error.id for error in errors] == ["attendance_push.E022"]
    assert str(database.resolve()) in errors[0].msg


# --- attendance_push.E023: MAX_PAST_DAYS has a ceiling ------------------------------------------------------


@pytest.mark.parametrize("value", [3661, 100_000, 10**9])
def test_e023_refuses_a_max_past_days_above_ten_years(settings, value):
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "MAX_PAST_DAYS": value}
    errors = check_settings()
    assert [error.id for error in errors] == ["attendance_push.E023"]
    assert "3660" in errors[0].msg and "3660" in errors[0].hint


@pytest.mark.parametrize("value", [0, 366, 3660])
def test_e023_accepts_a_max_past_days_up_to_ten_years(settings, value):
    settings.ATTENDANCE_PUSH = {**settings.ATTENDANCE_PUSH, "MAX_PAST_DAYS": value}
    assert [error.id for error in check_settings()] == []
