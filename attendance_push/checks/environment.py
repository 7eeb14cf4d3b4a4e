"""Checks of the project around the app: USE_TZ, django-q2 and its task queue, the databases of the
attendance models, STATIC_ROOT."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import connections, router

from .targets import valid_targets


def project_requirements() -> list[checks.CheckMessage]:
    """Refuse a project without USE_TZ or django-q2 (part of check_settings, in its order)."""
    errors: list[checks.CheckMessage] = []
    if not settings.USE_TZ:
        errors.append(
            checks.Error(
                "attendance_push needs USE_TZ = True: the push time and 'today' are instants read in TIME_ZONE.",
                hint="Set USE_TZ = True (Django's default since 5.0).",
                id="attendance_push.E021",
            )
        )
    if not apps.is_installed("django_q"):
        errors.append(
            checks.Error(
                "attendance_push needs django-q2 to schedule the push.",
                hint="Add 'django_q' to INSTALLED_APPS.",
                id="attendance_push.E010",
            )
        )
    return errors


def check_task_queue(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Warn about django-q2 settings under which a push could run twice or forever."""
    cluster = getattr(settings, "Q_CLUSTER", {})
    warnings: list[checks.CheckMessage] = []
    if not cluster.get("max_attempts"):
        warnings.append(
            checks.Warning(
                "Q_CLUSTER['max_attempts'] is 0 (django-q2's default): a failing push is retried forever.",
                hint="Set Q_CLUSTER['max_attempts'] = 1; a failed push is recorded in the history for a rerun.",
                id="attendance_push.W002",
            )
        )
    timeout, retry = cluster.get("timeout"), cluster.get("retry", 60)
    if not (isinstance(timeout, int | float) and isinstance(retry, int | float)) or timeout >= retry:
        warnings.append(
            checks.Warning(
                f"Q_CLUSTER['timeout'] ({timeout}) is not below Q_CLUSTER['retry'] ({retry}): the broker can hand "
                "a push still running to a second worker.",
                hint="Set a timeout shorter than retry, e.g. 'timeout': 600, 'retry': 720.",
                id="attendance_push.W003",
            )
        )
    return warnings


def check_databases(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Check the databases of the attendance models: one transaction, and pushes of a day serialised."""
    warnings: list[checks.CheckMessage] = []
    aliases = set()
    for target in valid_targets():
        aliases.add(router.db_for_write(target.model))
    if len(aliases) > 1:
        warnings.append(
            checks.Error(
                f"The attendance models are on different databases ({', '.join(sorted(aliases))}): a push could "
                "not be one transaction.",
                hint="Keep every target's attendance model on one database (see your DATABASE_ROUTERS).",
                id="attendance_push.E020",
            )
        )
    for alias in sorted(alias for alias in aliases if alias in connections):
        db = connections[alias].settings_dict
        options = db.get("OPTIONS", {})
        if connections[alias].vendor == "sqlite" and str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            warnings.append(
                checks.Warning(
                    f"SQLite database '{alias}' opens DEFERRED transactions: a push that meets another writer "
                    "fails with 'database is locked', and concurrent pushes of one day are not serialised.",
                    hint=f"Set DATABASES['{alias}']['OPTIONS'] = {{'transaction_mode': 'IMMEDIATE', 'timeout': 20}}.",
                    id="attendance_push.W004",
                )
            )
        isolation = options.get("isolation_level")
        if connections[alias].vendor == "postgresql" and isolation not in _READ_COMMITTED_OR_LOWER:
            # READ UNCOMMITTED and READ COMMITTED see rows committed while the push waited for the
            # day's lock; REPEATABLE READ and SERIALIZABLE do not.
            warnings.append(
                checks.Warning(
                    f"PostgreSQL database '{alias}' runs above READ COMMITTED: a push that waited for another "
                    "push of the same day cannot see its records, and a model without a unique constraint on "
                    "(person, date) gets duplicates.",
                    hint="Use the default isolation level (READ COMMITTED) for this database.",
                    id="attendance_push.W005",
                )
            )
    return warnings


def check_static_root(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse a STATIC_ROOT that would publish the project's folder, a folder of it, the app's source or a database."""
    static_root = getattr(settings, "STATIC_ROOT", None)
    if not static_root:
        return []  # collectstatic refuses to run, and whitenoise serves nothing from it
    root = Path(static_root).resolve()
    problem = _exposes(root)
    if problem is None:
        return []
    return [
        checks.Error(
            f"STATIC_ROOT {str(root)!r} {problem}: collectstatic writes into it and whitenoise serves every file "
            "in it, the code, the database, .env and .git included.",
            hint="Point STATIC_ROOT at BASE_DIR / 'staticfiles' (the collected-static folder, the only folder of "
            "the project it may be) or at a folder outside the project (an empty STATIC_ROOT= in a .env file "
            "must mean that default, not the working folder).",
            id="attendance_push.E022",
        )
    ]


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _exposes(root: Path) -> str | None:
    """Return what STATIC_ROOT `root` would publish, in words, or None when it is a folder of its own."""
    project = _project_folder()
    if project is not None:
        if _within(project, root):
            return f"is the project folder or holds it ({project})"
        if _within(root, project) and not _within(root, project / "staticfiles"):
            # .git, the settings' package, an app, templates: every folder of the project but the
            # collected-static one holds something of the project.
            return f"is a folder of the project ({project}) other than its collected-static folder, staticfiles"
    app_source = Path(apps.get_app_config("attendance_push").path).resolve()
    if _within(app_source, root):
        return f"is the app's source or holds it ({app_source})"
    for alias, database in settings.DATABASES.items():
        name = str(database.get("NAME") or "")
        if not database.get("ENGINE", "").endswith("sqlite3") or not name or name.startswith((":memory:", "file:")):
            continue
        if _within(Path(name).resolve(), root):
            return f"holds the database {alias!r} ({Path(name).resolve()})"
    return None


def _project_folder() -> Path | None:
    """Return BASE_DIR, or the folder holding the settings module's package."""
    base_dir = getattr(settings, "BASE_DIR", None)
    if base_dir:
        return Path(base_dir).resolve()
    module = sys.modules.get(os.environ.get("DJANGO_SETTINGS_MODULE", "").partition(".")[0])
    module_file = getattr(module, "__file__", None)
    return Path(module_file).resolve().parent.parent if module_file else None


def _read_committed_or_lower() -> tuple:
    try:
        from django.db.backends.postgresql.psycopg_any import IsolationLevel
    except ImportError:  # pragma: no cover (no PostgreSQL driver installed)
        return (None,)
    return (None, IsolationLevel.READ_UNCOMMITTED, IsolationLevel.READ_COMMITTED)


_READ_COMMITTED_OR_LOWER = _read_committed_or_lower()
