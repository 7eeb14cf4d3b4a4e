"""Static files never publish the project: an empty STATIC_ROOT means staticfiles/, a check refuses
a STATIC_ROOT over the project or the app's source, and gunicorn answers 404 for the secrets."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

import attendance_push
from attendance_push.checks import check_static_root
from tests.support.processes import ROOT, answers, free_port, stop, wait_for
from tests.support.settings_process import read

pytestmark = pytest.mark.process
VENV_BIN = Path(sys.executable).parent
SECRETS = ("/static/db.sqlite3", "/static/.env", "/static/.git/config")


# --- the setting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", " "], ids=["empty", "blank"])
def test_an_empty_static_root_means_staticfiles_in_the_project_folder(value):
    assert read({"STATIC_ROOT": value}, "STATIC_ROOT") == {"STATIC_ROOT": str(ROOT / "staticfiles")}


def test_an_unset_static_root_means_staticfiles_in_the_project_folder():
    assert read({}, "STATIC_ROOT") == {"STATIC_ROOT": str(ROOT / "staticfiles")}


def test_a_relative_static_root_is_read_from_the_project_folder():
    assert read({"STATIC_ROOT": "../public/static"}, "STATIC_ROOT") == {
        "STATIC_ROOT": str(ROOT.parent / "public" / "static")
    }


def test_the_env_example_sets_no_empty_static_root():
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert not [line for line in lines if line.strip().startswith("STATIC_ROOT=")]


# --- attendance_push.E022 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "static_root",
    [ROOT, ROOT.parent, Path("/"), Path(attendance_push.__file__).parent, Path(attendance_push.__file__).parent.parent],
    ids=["project-folder", "holds-the-project", "filesystem-root", "app-source", "holds-the-app"],
)
def test_e022_refuses_a_static_root_over_the_project_or_the_apps_source(static_root):
    with override_settings(STATIC_ROOT=str(static_root)):
        errors = check_static_root()
    assert [error.id for error in errors] == ["attendance_push.E022"]
    assert str(static_root.resolve()) in errors[0].msg
    assert errors[0].hint


def test_e022_refuses_a_relative_static_root_that_resolves_to_the_project(monkeypatch):
    monkeypatch.chdir(ROOT)
    with override_settings(STATIC_ROOT="."):
        assert [error.id for error in check_static_root()] == ["attendance_push.E022"]


def test_e022_finds_the_project_from_the_settings_module_without_base_dir(settings):
    del settings.BASE_DIR
    settings.STATIC_ROOT = str(ROOT)
    assert [error.id for error in check_static_root()] == ["attendance_push.E022"]


@pytest.mark.parametrize("static_root", [None, ""], ids=["none", "empty"])
def test_e022_is_quiet_without_a_static_root(static_root):
    with override_settings(STATIC_ROOT=static_root):
        assert check_static_root() == []


def test_e022_accepts_a_folder_of_its_own(tmp_path):
    for static_root in (ROOT / "staticfiles", tmp_path / "static", ROOT.parent / "attendance_push_static"):
        with override_settings(STATIC_ROOT=str(static_root)):
            assert check_static_root() == [], static_root


def test_check_deploy_fails_on_a_static_root_over_the_project():
    with override_settings(STATIC_ROOT=str(ROOT)), pytest.raises(SystemCheckError) as excinfo:
        call_command("check", "--deploy", "--tag", "security", stdout=StringIO(), stderr=StringIO())
    assert "attendance_push.E022" in str(excinfo.value)


# --- over HTTP, under gunicorn ---------------------------------------------------------------------


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": "localhost", "X-Forwarded-Proto": "https"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def deployed_copy(folder: Path) -> Path:
    """Copy the project as a systemd deployment holds it: its SQLite database, a .env made from
    .env.example, and a git checkout next to the code."""
    ignore = shutil.ignore_patterns("__pycache__", "staticfiles")
    for name in ("attendance_push", "config", "school", "templates"):
        shutil.copytree(ROOT / name, folder / name, ignore=ignore)
    shutil.copy(ROOT / "manage.py", folder / "manage.py")
    # The systemd setup of docs/deployment.md: copy .env.example and fill in what it needs.
    (folder / ".env").write_text((ROOT / ".env.example").read_text())
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text('[remote "origin"]\n\turl = https://token@example.org/school.git\n')
    return folder


@pytest.mark.parametrize("static_root", [None, ""], ids=["env-example-as-shipped", "empty-in-the-environment"])
def test_gunicorn_serves_static_files_but_never_the_database_env_or_git(static_root, tmp_path):
    project = deployed_copy(tmp_path / "srv")
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The environment wins over .env (read_env does not overwrite): the database is the
        # project folder's SQLite file, as without DATABASE_URL.
        "SECRET_KEY": "static-files-test-key",
        "DATABASE_URL": f"sqlite:///{project / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "localhost",
    }
    if static_root is not None:
        env["STATIC_ROOT"] = static_root

    def manage(*args: str) -> None:
        done = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"

    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")

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
    try:
        wait_for(lambda: answers(port) or gunicorn.poll() is not None, timeout=60, what="gunicorn", log=log)
        assert gunicorn.poll() is None, log.read_text()
        assert {path: get(port, path) for path in SECRETS} == dict.fromkeys(SECRETS, 404)
        assert get(port, "/static/admin/css/base.css") == 200, log.read_text()
    finally:
        stop(gunicorn, signal.SIGTERM, timeout=30)
    assert (project / "staticfiles" / "staticfiles.json").exists(), "collectstatic did not write staticfiles/"
    assert not (project / "admin").exists(), "collectstatic wrote into the project folder"
