"""The project settings read from the environment, each case in a fresh Python process.

Settings are read once per process, so every case starts `python -c` with a minimal environment
(no DATABASE_URL or SECRET_KEY inherited from the test run) and reads the values back as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT
from tests.support.settings_process import read, start

# SECRET_KEY and DEBUG


@pytest.mark.parametrize(
    "env",
    [{}, {"DEBUG": "0"}, {"DEBUG": "false"}, {"SECRET_KEY": ""}],
    ids=["debug-unset", "debug-0", "debug-false", "empty-key"],
)
def test_without_a_secret_key_production_settings_refuse_to_load(env):
    completed = start(env, "SECRET_KEY")

    assert completed.returncode != 0
    assert "ImproperlyConfigured" in completed.stderr
    assert "SECRET_KEY is not set" in completed.stderr
    assert completed.stdout == ""


def test_debug_without_a_secret_key_uses_a_development_key():
    completed = start({"DEBUG": "1"}, "DEBUG", "SECRET_KEY")

    assert completed.returncode == 0, completed.stderr
    values = json.loads(completed.stdout)
    assert values["DEBUG"] is True
    assert values["SECRET_KEY"].startswith("django-insecure-")


def test_a_given_secret_key_is_used_and_debug_is_off_by_default():
    values = read({"SECRET_KEY": "from-the-environment"}, "DEBUG", "SECRET_KEY", "STORAGES")

    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == "from-the-environment"
    # Production serves hashed, compressed static files.
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


# DATABASE_URL


def test_the_default_database_is_sqlite_in_the_project_folder_with_immediate_transactions():
    database = read({}, "DATABASES")["DATABASES"]["default"]

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == ROOT / "db.sqlite3"
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] == 20


def test_sqlite_timeout_comes_from_the_environment():
    database = read({"SQLITE_TIMEOUT": "5"}, "DATABASES")["DATABASES"]["default"]

    assert database["OPTIONS"]["timeout"] == 5


def test_a_postgres_url_selects_postgresql_with_persistent_checked_connections():
    url = "postgres://attendance:s3cret@db.example.com:5433/attendance"
    database = read({"DATABASE_URL": url}, "DATABASES")["DATABASES"]["default"]

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("attendance", "attendance", "s3cret")
    assert (database["HOST"], database["PORT"]) == ("db.example.com", 5433)
    assert database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"] is True
    # The SQLite-only options must not leak into another backend.
    assert "transaction_mode" not in database["OPTIONS"] and "timeout" not in database["OPTIONS"]


def test_conn_max_age_comes_from_the_environment():
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "CONN_MAX_AGE": "0"}
    assert read(env, "DATABASES")["DATABASES"]["default"]["CONN_MAX_AGE"] == 0


# Q_CLUSTER


def test_without_redis_the_task_queue_uses_the_database():
    cluster = read({}, "Q_CLUSTER")["Q_CLUSTER"]

    assert cluster["orm"] == "default"
    assert "redis" not in cluster


def test_redis_url_selects_the_redis_broker():
    cluster = read({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "Q_CLUSTER")["Q_CLUSTER"]

    assert cluster["redis"] == "redis://127.0.0.1:6379/0"
    assert "orm" not in cluster


def test_failed_tasks_are_not_retried_forever_and_are_not_handed_out_while_running():
    cluster = read({}, "Q_CLUSTER")["Q_CLUSTER"]

    # django-q2 reads max_attempts 0 as "retry forever".
    assert cluster["max_attempts"] >= 1
    # A task still running at `retry` seconds is given to a second worker: retry must exceed timeout.
    assert 0 < cluster["timeout"] < cluster["retry"]


def test_queue_timeout_and_retry_come_from_the_environment():
    cluster = read({"Q_TIMEOUT": "120", "Q_RETRY": "150", "Q_WORKERS": "4"}, "Q_CLUSTER")["Q_CLUSTER"]

    assert (cluster["timeout"], cluster["retry"], cluster["workers"]) == (120, 150, 4)


# Time zone and hosts


def test_time_zone_defaults_to_kathmandu_with_aware_datetimes():
    values = read({}, "TIME_ZONE", "USE_TZ", "ATTENDANCE_PUSH")

    assert values["TIME_ZONE"] == "Asia/Kathmandu"
    assert values["USE_TZ"] is True
    assert values["ATTENDANCE_PUSH"]["TIME_ZONE"] == "Asia/Kathmandu"


def test_time_zones_come_from_the_environment():
    env = {"TIME_ZONE": "UTC", "ATTENDANCE_PUSH_TIME_ZONE": "Asia/Tokyo", "ATTENDANCE_PUSH_TIME": "20:30"}
    values = read(env, "TIME_ZONE", "ATTENDANCE_PUSH")

    assert values["TIME_ZONE"] == "UTC"
    assert values["ATTENDANCE_PUSH"]["TIME_ZONE"] == "Asia/Tokyo"
    assert values["ATTENDANCE_PUSH"]["TIME"] == "20:30"


def test_allowed_hosts_default_to_the_local_machine():
    assert read({}, "ALLOWED_HOSTS")["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]


def test_allowed_hosts_and_csrf_origins_come_from_the_environment_lists():
    env = {
        "ALLOWED_HOSTS": "attendance.example.com,.herokuapp.com",
        "CSRF_TRUSTED_ORIGINS": "https://attendance.example.com",
    }
    values = read(env, "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")

    assert values["ALLOWED_HOSTS"] == ["attendance.example.com", ".herokuapp.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://attendance.example.com"]


def test_admins_are_parsed_from_name_colon_address_pairs():
    values = read({"ADMINS": "Ops:ops@example.com,broken-entry,Sita:sita@example.com"}, "ADMINS")

    assert values["ADMINS"] == [["Ops", "ops@example.com"], ["Sita", "sita@example.com"]]


PRODUCTION = {
    "SECRET_KEY": "k3V9s-production-grade-secret-key-for-the-deploy-check-0123456789abcdef",
    "ALLOWED_HOSTS": "attendance.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_reports_nothing_with_production_environment_variables():
    # Only the settings are checked: no connection is made to the database or Redis named here.
    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": os.devnull, **PRODUCTION},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "System check identified no issues (0 silenced)." in completed.stdout


def test_production_is_https_only_and_each_part_can_be_turned_off():
    names = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS")
    production = read(PRODUCTION, *names)
    assert production == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
    }
    relaxed = read({**PRODUCTION, "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0"}, *names)
    assert (relaxed["SECURE_SSL_REDIRECT"], relaxed["SECURE_HSTS_SECONDS"]) == (False, 0)
    development = read({"DEBUG": "1"}, *names)
    assert not any(development.values())
