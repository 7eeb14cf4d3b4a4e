"""People and their daily attendance for the demo school."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Student(models.Model):
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_(
            "Untick when the student has left and the day is not known: the push then skips them on every day."
        ),
    )
    enrolled_on = models.DateField(
        _("enrolled on"), null=True, blank=True, help_text=_("The first school day; empty if not known.")
    )
    left_on = models.DateField(
        _("left on"), null=True, blank=True, help_text=_("The first day no longer at the school; empty while enrolled.")
    )

    class Meta:
        verbose_name = _("student")
        verbose_name_plural = _("students")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Employee(models.Model):
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_(
            "Untick when the employee has left and the day is not known: the push then skips them on every day."
        ),
    )
    joined_on = models.DateField(
        _("joined on"), null=True, blank=True, help_text=_("The first working day; empty if not known.")
    )
    left_on = models.DateField(
        _("left on"), null=True, blank=True, help_text=_("The first day no longer employed; empty while employed.")
    )

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Leave(models.Model):
    """An employee's leave from `first_day` to `last_day`, both included; only approved leave counts."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="leaves", verbose_name=_("employee"))
    first_day = models.DateField(_("first day"), help_text=_("The first day of the leave."))
    last_day = models.DateField(_("last day"), help_text=_("The last day of the leave, included."))
    approved = models.BooleanField(
        _("approved"), default=False, help_text=_("Only approved leave counts: the push gives its days a Leave record.")
    )

    class Meta:
        verbose_name = _("leave")
        verbose_name_plural = _("leave")
        ordering = ["-first_day"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_day__lte=models.F("last_day")), name="leave_ends_after_it_starts"
            ),
        ]

    def __str__(self) -> str:
        return _("%(employee)s: %(first)s to %(last)s") % {
            "employee": self.employee,
            "first": self.first_day,
            "last": self.last_day,
        }


class AttendanceRecord(models.Model):
    """One person's attendance on one day."""

    class Status(models.TextChoices):
        PRESENT = "Present", _("Present")
        ABSENT = "Absent", _("Absent")
        LATE = "Late", _("Late")
        LEAVE = "Leave", _("Leave")

    date = models.DateField(_("date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PRESENT)
    time_in = models.TimeField(_("check-in"), null=True, blank=True)
    time_out = models.TimeField(_("check-out"), null=True, blank=True)
    # Null means the record came from the device or a background job, not a user.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
        help_text=_("Empty when a device or a background job created the record."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class StudentAttendance(AttendanceRecord):
    # No index of its own: the unique constraint's (student, date) index serves lookups by student,
    # and one index fewer to maintain is a faster push.
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="attendance", db_index=False, verbose_name=_("student")
    )

    class Meta:
        verbose_name = _("student attendance")
        verbose_name_plural = _("student attendance")
        ordering = ["-date", "student__name"]
        constraints = [
            # Its (student, date) index also serves the push's NOT EXISTS lookup.
            models.UniqueConstraint(fields=["student", "date"], name="unique_student_attendance_per_day"),
        ]
        indexes = [
            # The admin filters and drills down by date across all students.
            models.Index(fields=["date"], name="student_attendance_date_idx"),
        ]

    def __str__(self) -> str:
        return _("%(person)s on %(day)s: %(status)s") % {
            "person": self.student,
            "day": self.date,
            "status": self.get_status_display(),
        }


class EmployeeAttendance(AttendanceRecord):
    # See StudentAttendance.student.
    employee = models.ForeignKey(
        Employee, on_delete=models.CASCADE, related_name="attendance", db_index=False, verbose_name=_("employee")
    )

    class Meta:
        verbose_name = _("employee attendance")
        verbose_name_plural = _("employee attendance")
        ordering = ["-date", "employee__name"]
        constraints = [
            # Its (employee, date) index also serves the push's NOT EXISTS lookup.
            models.UniqueConstraint(fields=["employee", "date"], name="unique_employee_attendance_per_day"),
        ]
        indexes = [
            # The admin filters and drills down by date across all employees.
            models.Index(fields=["date"], name="employee_attendance_date_idx"),
        ]

    def __str__(self) -> str:
        return _("%(person)s on %(day)s: %(status)s") % {
            "person": self.employee,
            "day": self.date,
            "status": self.get_status_display(),
        }
