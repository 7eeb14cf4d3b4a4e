"""Settings of the test host project: Django, django-q2 and attendance_push, nothing of ours else."""

import os
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "hostproject-tests-only"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]


def _database(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": parts.path[1:] if parts.path.startswith("//") else parts.path,
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {"default": _database(os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'host.sqlite3'}"))}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "attendance_push",
    "hr",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "hostsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"
USE_TZ = True
TIME_ZONE = "America/New_York"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

Q_CLUSTER = {"name": "hostsite", "orm": "default", "timeout": 300, "retry": 360, "max_attempts": 1}
# Shared by the web process and the worker, so the admin sees the worker (`manage.py createcachetable`).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}}

ATTENDANCE_PUSH = {
    "TIME": "18:30",
    "TIME_ZONE": "Asia/Kathmandu",
    "STATUS": "present",
    "CHECK_IN": "10:00",
    "CHECK_OUT": "18:00",
    # The office opens every day of the week; its closures are kept in the admin.
    "WEEKLY_OFF": [],
    "TARGETS": [
        {
            "attendance": "hr.DailyAttendance",
            "person_field": "staff",
            "people_filter": {"active": True},
            "date_field": "day",
            "status_field": "state",
            "check_in_field": "clock_in",
            "check_out_field": "clock_out",
            "created_by_field": "recorded_by",
        }
    ],
}
