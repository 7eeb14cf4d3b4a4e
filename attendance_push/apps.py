"""App configuration: wiring only (checks, the schedule's signal handlers)."""

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate, pre_save
from django.utils.translation import gettext_lazy as _


class AttendancePushConfig(AppConfig):
    name = "attendance_push"
    verbose_name = _("Attendance push")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import (
            check_calendar,
            check_databases,
            check_settings,
            check_static_root,
            check_status_rows,
            check_task_queue,
        )
        from .schedule import create_push_schedule, keep_on_time

        checks.register(check_settings)
        checks.register(check_task_queue)
        checks.register(check_databases)
        checks.register(check_status_rows, checks.Tags.database)
        checks.register(check_static_root, checks.Tags.staticfiles, checks.Tags.security, deploy=True)
        checks.register(check_calendar)
        if not self.apps.is_installed("django_q"):
            return  # check_settings reports it (attendance_push.E010).
        from django_q.models import Schedule

        post_migrate.connect(create_push_schedule, sender=self)
        pre_save.connect(keep_on_time, sender=Schedule, dispatch_uid="attendance_push.keep_on_time")
