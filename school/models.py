"""People and their daily attendance for the demo school."""

from django.conf import settings
from django.db import models


class Student(models.Model):
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    enrolled_on = models.DateField(null=True, blank=True, help_text="The first school day; empty if not known.")
    left_on = models.DateField(
        null=True, blank=True, help_text="The first day no longer at the school; empty while enrolled."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Employee(models.Model):
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    joined_on = models.DateField(null=True, blank=True, help_text="The first working day; empty if not known.")
    left_on = models.DateField(
        null=True, blank=True, help_text="The first day no longer employed; empty while employed."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Leave(models.Model):
    """An employee's leave from `first_day` to `last_day`, both included; only approved leave counts."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="leaves")
    first_day = models.DateField()
    last_day = models.DateField()
    approved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-first_day"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_day__lte=models.F("last_day")), name="leave_ends_after_it_starts"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employee}: {self.first_day} to {self.last_day}"


class AttendanceRecord(models.Model):
    """One person's attendance on one day."""

    class Status(models.TextChoices):
        PRESENT = "Present"
        ABSENT = "Absent"
        LATE = "Late"
        LEAVE = "Leave"

    date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PRESENT)
    time_in = models.TimeField(null=True, blank=True)
    time_out = models.TimeField(null=True, blank=True)
    # Null means the record came from the device or a background job, not a user.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class StudentAttendance(AttendanceRecord):
    # No index of its own: the unique constraint's (student, date) index serves lookups by student,
    # and one index fewer to maintain is a faster push.
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="attendance", db_index=False)

    class Meta:
        verbose_name = "student attendance"
        verbose_name_plural = "student attendance"
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
        return f"{self.student} on {self.date}: {self.status}"


class EmployeeAttendance(AttendanceRecord):
    # See StudentAttendance.student.
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="attendance", db_index=False)

    class Meta:
        verbose_name = "employee attendance"
        verbose_name_plural = "employee attendance"
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
        return f"{self.employee} on {self.date}: {self.status}"
