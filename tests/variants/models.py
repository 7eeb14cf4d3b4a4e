"""Host models shaped unlike the demo's: each is one way a real project differs."""

import datetime
import uuid

from django.db import models
from django.db.models import F
from django.db.models.signals import post_save
from django.dispatch import receiver


class Group(models.Model):
    name = models.CharField(max_length=50)
    # A shift the group works: per-person times read through the member's group.
    starts_at = models.TimeField(null=True, blank=True)
    ends_at = models.TimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """People with a negated flag ("inactive"), a related group and the dates they were with the host."""

    full_name = models.CharField(max_length=100)
    inactive = models.BooleanField(default=False)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    joined_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.full_name


class Presence(models.Model):
    """No status, no times, no creator: a record is the attendance."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class Shift(models.Model):
    """An integer status with choices."""

    class State(models.IntegerChoices):
        PRESENT = 1, "Present"
        ABSENT = 2, "Absent"

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    state = models.PositiveSmallIntegerField(choices=State.choices)

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class Checkmark(models.Model):
    """A boolean status and columns the push fills with constants (extra_values)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    present = models.BooleanField(default=False)
    validated = models.BooleanField(default=False)
    hours = models.CharField(max_length=5)

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class AttendanceState(models.Model):
    name = models.CharField(max_length=20, unique=True)

    def __str__(self) -> str:
        return self.name


class Roll(models.Model):
    """A status that is a foreign key to a lookup table, in a unique constraint with the day."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    state = models.ForeignKey(AttendanceState, on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "day", "state"], name="roll_unique_with_state")]

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class Timesheet(models.Model):
    """Business logic in save() (derived minutes) and in a post_save receiver (a day counter)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    status = models.CharField(max_length=10)
    time_in = models.TimeField(null=True, blank=True)
    time_out = models.TimeField(null=True, blank=True)
    minutes = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.member} {self.day}"

    def save(self, *args, **kwargs) -> None:
        if self.time_in and self.time_out:
            start = datetime.datetime.combine(self.day, self.time_in)
            self.minutes = int((datetime.datetime.combine(self.day, self.time_out) - start).total_seconds() // 60)
        super().save(*args, **kwargs)


class DayTotal(models.Model):
    day = models.DateField(unique=True)
    records = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.records}"


@receiver(post_save, sender=Timesheet)
def count_new_timesheet(sender, instance, created, **kwargs) -> None:
    if created:
        total, _ = DayTotal.objects.get_or_create(day=instance.day)
        DayTotal.objects.filter(pk=total.pk).update(records=F("records") + 1)


class Stamp(models.Model):
    """Check-in and check-out as date-times: not something the push can fill."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    clock_in = models.DateTimeField(null=True)
    clock_out = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class Session(models.Model):
    day = models.DateField()

    def __str__(self) -> str:
        return str(self.day)


class Visit(models.Model):
    """The day only reachable through a parent row."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    session = models.ForeignKey(Session, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"{self.member} {self.session}"


class Badge(models.Model):
    """A UUID primary key: computed per record by Python, so not for one INSERT … SELECT."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class Register(models.Model):
    """An HR row that keeps the check-in and check-out dates and the weekday next to the times.

    Its own edit form needs the check-in date: a row without it is broken for the host.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    status = models.CharField(max_length=10)
    time_in = models.TimeField(null=True, blank=True)
    time_out = models.TimeField(null=True, blank=True)
    check_in_date = models.DateField()
    check_out_date = models.DateField(null=True, blank=True)
    weekday = models.CharField(max_length=9)
    worked = models.DurationField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "day"], name="register_one_per_day")]

    def __str__(self) -> str:
        return f"{self.member} {self.day}"


class Guarded(models.Model):
    """A host whose save() silently refuses a "Present" row for a member in the "Temps" group."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    day = models.DateField()
    status = models.CharField(max_length=10)
    time_in = models.TimeField(null=True, blank=True)
    time_out = models.TimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.member} {self.day}"

    def save(self, *args, **kwargs) -> None:
        if self.status == "Present" and self.member.group is not None and self.member.group.name == "Temps":
            return
        if self.time_out is not None and self.member.full_name == "Locked":
            return  # a closed record is not edited here
        super().save(*args, **kwargs)


class Pupil(models.Model):
    """People whose primary key is a UUID."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class PupilAttendance(models.Model):
    """The demo's shape, for people with UUID keys."""

    pupil = models.ForeignKey(Pupil, on_delete=models.CASCADE)
    day = models.DateField()
    status = models.CharField(max_length=10)
    time_in = models.TimeField(null=True, blank=True)
    time_out = models.TimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pupil", "day"], name="pupil_attendance_once_a_day")]

    def __str__(self) -> str:
        return f"{self.pupil} {self.day}"
