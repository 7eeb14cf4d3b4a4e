"""An HR app named unlike the demo in every way, with no unique constraint on (staff, day)."""

from django.conf import settings
from django.db import models


class Staff(models.Model):
    full_name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.full_name


class DailyAttendance(models.Model):
    STATES = [("present", "Present"), ("absent", "Absent"), ("remote", "Remote")]

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE)
    day = models.DateField()
    state = models.CharField(max_length=10, choices=STATES)
    clock_in = models.TimeField(null=True, blank=True)
    clock_out = models.TimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

    class Meta:
        # An index, deliberately not unique: only the push's day lock keeps records single.
        indexes = [models.Index(fields=["staff", "day"], name="hr_attendance_staff_day")]

    def __str__(self) -> str:
        return f"{self.staff} {self.day}"
