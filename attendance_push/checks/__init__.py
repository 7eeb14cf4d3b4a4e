"""System checks of `settings.ATTENDANCE_PUSH` and its surroundings: a bad configuration stops `check`, `migrate`
and the worker with a clear message, instead of failing at push time.

`settings` checks the setting's shapes and values, `targets` what it names in the host's models, `environment`
the project around the app; `apps.py` registers the functions named here.
"""

from .environment import check_databases, check_static_root, check_task_queue
from .settings import check_calendar, check_settings
from .targets import check_status_rows

__all__ = [
    "check_calendar",
    "check_databases",
    "check_settings",
    "check_static_root",
    "check_status_rows",
    "check_task_queue",
]
