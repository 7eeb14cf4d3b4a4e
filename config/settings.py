"""Settings of the attendance-push demo project, read from the environment (12-factor).

Every value can be set in the environment or in a `.env` file next to `manage.py`; see
`.env.example` and the README's configuration table.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development; real deployments set the environment.
# ENV_FILE names another file (tests point it nowhere so a developer's .env cannot leak in).
_ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
environ.Env.read_env(_ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # Signing (sessions, django-q2 packages) is only as safe as this key: never guess one in production.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable (or DEBUG=1 for a development key)."
        )
    SECRET_KEY = "django-insecure-attendance-push-development-only"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "attendance_push",
    "school",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A 503 that says the database cannot be reached, on the admin and the health URL, instead of a 500.
    "attendance_push.middleware.DatabaseUnreachableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The admin in the browser's language: English or Nepali (attendance_push ships a `ne` translation).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # With SQLite's default DEFERRED transactions, concurrent writers (web + worker) fail with
    # "database is locked" whatever the timeout; IMMEDIATE makes them queue for the write lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": env.int("SQLITE_TIMEOUT", default=20)}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# LocaleMiddleware picks one from the browser's languages.
LANGUAGES = [("en", "English"), ("ne", "नेपाली")]
# The demo's own words (below) and those Django's admin and django-q2 lack in Nepali (config/django_words.py).
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Kathmandu")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# An empty STATIC_ROOT= (as in a copied .env) must not mean the working folder: django-environ's
# env.path("") is ".", and whitenoise would then serve the database, .env and .git. A relative
# value is read from the project folder, not from wherever the process was started.
STATIC_ROOT = (BASE_DIR / (env.str("STATIC_ROOT", default="").strip() or "staticfiles")).resolve()


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# whitenoise serves every file in STATIC_ROOT: every process refuses to start (gunicorn's too, not only
# `check --deploy` and its E022) when that would be the project's code, its database, .env or .git.
# Inside the project only the collected-static folder, staticfiles/, is STATIC_ROOT's.
_PROJECT = BASE_DIR.resolve()
_KEPT = [_PROJECT, Path(_ENV_FILE).resolve()]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and DATABASES["default"]["NAME"] != ":memory:":
    _KEPT.append(Path(DATABASES["default"]["NAME"]).resolve())
if not _within(STATIC_ROOT, _PROJECT / "staticfiles") and (
    _within(STATIC_ROOT, _PROJECT) or any(_within(kept, STATIC_ROOT) for kept in _KEPT)
):
    raise ImproperlyConfigured(
        f"STATIC_ROOT {str(STATIC_ROOT)!r} is the project folder, holds it, its database or .env, or is a folder "
        f"of it other than {str(_PROJECT / 'staticfiles')!r}: whitenoise would serve the code, the database, .env "
        "or .git. Leave STATIC_ROOT unset (staticfiles/ next to manage.py) or point it at a folder outside the "
        "project."
    )

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

ADMINS = [tuple(admin.split(":", 1)) for admin in env.list("ADMINS", default=[]) if ":" in admin]
SERVER_EMAIL = env.str("SERVER_EMAIL", default="attendance-push@localhost")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    # smtp://user:password@host:587 (django-environ), e.g. a Heroku mail add-on's URL.
    globals().update(env.email_url("EMAIL_URL"))

# Heroku's router terminates TLS and says so in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# HTTPS only in production (DEBUG off); each can be turned off from the environment, e.g. for a
# first deployment behind a proxy that does not speak TLS yet.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "line"},
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "attendance_push": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django-q": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}

REDIS_URL = env.str("REDIS_URL", default="")

# A cache every process shares: django-q2 keeps its cluster stats there, which is how the admin
# and `attendance_push_status` know whether a worker is running.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}}

Q_CLUSTER = {
    "name": "attendance_push",
    "workers": env.int("Q_WORKERS", default=2),
    # A push of a million people takes seconds; ten minutes is a generous ceiling.
    "timeout": env.int("Q_TIMEOUT", default=600),
    # Must stay above timeout, or the broker hands a still-running push to a second worker.
    "retry": env.int("Q_RETRY", default=720),
    # django-q2's default 0 retries a failing task forever; a failed push is recorded and
    # e-mailed, and an admin reruns it.
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 500,
    # The admin's name for django-q2's models; django-q2 makes it its app's verbose_name, read at display.
    "label": _("Task queue"),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

ATTENDANCE_PUSH = {
    "TIME": env.str("ATTENDANCE_PUSH_TIME", default="21:00"),
    "TIME_ZONE": env.str("ATTENDANCE_PUSH_TIME_ZONE", default="Asia/Kathmandu"),
    "STATUS": "Present",
    "CHECK_IN": "09:00",
    "CHECK_OUT": "17:00",
    "ACTOR": env.str("ATTENDANCE_PUSH_ACTOR", default=None),
    "CATCH_UP_DAYS": env.int("ATTENDANCE_PUSH_CATCH_UP_DAYS", default=3),
    # Makes the links in failure e-mails absolute.
    "SITE_URL": env.str("SITE_URL", default=None),
    # Nepal's weekly holiday and public holidays: no records are created on them (README, "Closed days").
    "WEEKLY_OFF": ["SAT"],
    "HOLIDAYS": {"country": "NP"},
    "TARGETS": [
        {
            "attendance": "school.StudentAttendance",
            "person_field": "student",
            # Who was enrolled on the day pushed: a backfill sees who was there then, including
            # someone who has left since.
            "people_on_day": "school.people.students_on_day",
        },
        {
            "attendance": "school.EmployeeAttendance",
            "person_field": "employee",
            "people_on_day": "school.people.employees_on_day",
            "rules": [
                # Approved leave gives a Leave record with no times, never a Present.
                {
                    # Shown on the push pages (lazy: worded in the page's language).
                    "name": _("On leave"),
                    "people": "school.people.employees_on_leave",
                    "status": "Leave",
                    "check_in": None,
                    "check_out": None,
                },
            ],
        },
    ],
}
