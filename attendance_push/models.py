"""The audit history: one `PushRun` per attempt to push a day."""

from __future__ import annotations

import datetime
import traceback

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .exceptions import PushError
from .results import PushedSpec, PushResult, TargetCounts, UndoResult, read_counts, read_pushed


class PushRunQuerySet(models.QuerySet):
    def active(self) -> PushRunQuerySet:
        """Return the runs waiting in the queue or running."""
        return self.filter(status__in=[PushRun.Status.QUEUED, PushRun.Status.RUNNING])


class PushRun(models.Model):
    """One attempt to push one attendance day, whoever started it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        INTERRUPTED = "interrupted", _("Interrupted")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        ADMIN = "admin", _("Admin")
        COMMAND = "command", _("Command")
        CATCH_UP = "catch-up", _("Catch-up")
        UNDO = "undo", _("Undo")

    date = models.DateField(_("day"), db_index=True, help_text=_("The attendance day pushed."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    created = models.PositiveIntegerField(_("records created"), default=0)
    filled = models.PositiveIntegerField(_("check-outs filled"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    counts = models.JSONField(
        _("counts per target"),
        default=dict,
        blank=True,
        help_text='{"app.Model": {"created": n, "filled": n, "skipped": n}}',
    )
    error = models.CharField(_("error"), max_length=500, blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    undoes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="undone_by",
        verbose_name=_("undoes run"),
        help_text=_("For an undo: the push it undid."),
    )
    pushed = models.JSONField(
        _("pushed values"),
        default=dict,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text=_("The values a push wrote, per target: what an undo compares records with."),
    )
    ledger_pruned_at = models.DateTimeField(
        _("ledger pruned at"),
        null=True,
        blank=True,
        help_text=_("When the records of this run were pruned from the ledger (KEEP_LEDGER_DAYS)."),
    )
    heartbeat_at = models.DateTimeField(
        _("last sign of life"),
        null=True,
        blank=True,
        help_text=_("Written every few seconds by the process running the push (where the day's lock cannot tell)."),
    )
    include_closed = models.BooleanField(
        _("closed days pushed too"),
        default=False,
        help_text=_(
            "Whether whoever pushed asked for records on closed days too (a weekly off, a holiday, a closure). "
            "Unticked, a closed day got no records."
        ),
    )

    objects = PushRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"
        verbose_name = _("push run")
        verbose_name_plural = _("push runs")
        permissions = [("push_attendance", _("Can push attendance"))]
        constraints = [
            # Two administrators confirming the same day at the same instant both pass a check
            # made in Python; only the database can keep the second run out.
            models.UniqueConstraint(
                fields=["date"],
                condition=models.Q(status__in=["queued", "running"]),
                name="attendance_push_one_active_run_per_day",
                violation_error_message=_("A push of this day is already under way."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} ({self.get_trigger_display()}, {self.get_status_display()})"

    @property
    def target_counts(self) -> dict[str, TargetCounts]:
        """Return the counts per target label, read from what this run's version stored."""
        return read_counts(self.counts)

    @property
    def corrected(self) -> int:
        """Return how many records of earlier pushes this push corrected or withdrew (see TargetResult.corrected)."""
        return sum(counts.corrected for counts in self.target_counts.values())

    @property
    def pushed_specs(self) -> dict[str, PushedSpec]:
        """Return what this run wrote per target label, read from what its version stored."""
        return read_pushed(self.pushed)

    @property
    def duration(self) -> datetime.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def mark_running(self) -> None:
        self.status = self.Status.RUNNING
        self.started_at = timezone.now()
        self.save(update_fields=["status", "started_at"])

    def mark_succeeded(self, result: PushResult) -> None:
        self.status = self.Status.SUCCEEDED
        self.finished_at = timezone.now()
        self.created, self.filled, self.skipped = result.created, result.filled, result.skipped
        self.counts = result.counts()
        self.pushed = result.pushed
        self.error = self.traceback = ""
        self.save(
            update_fields=[
                "status",
                "finished_at",
                "created",
                "filled",
                "skipped",
                "counts",
                "pushed",
                "error",
                "traceback",
            ]
        )

    def mark_undone(self, result: UndoResult) -> None:
        """Record a finished undo: its counts per target, nothing created or filled."""
        self.status = self.Status.SUCCEEDED
        self.finished_at = timezone.now()
        self.counts = result.counts()
        self.error = self.traceback = ""
        self.save(update_fields=["status", "finished_at", "counts", "error", "traceback"])

    def mark_failed(self, exc: BaseException) -> None:
        """Record this run failed with `exc`, unless the database holds it succeeded; then read back what it holds.

        A push or an undo records its success in its own transaction: when the answer to its COMMIT
        was lost, the database holds the run succeeded with its counts, and so does this run afterwards.
        """
        finished = timezone.now()
        first_line = (str(exc).strip().splitlines() or [""])[0]
        if not isinstance(exc, PushError):
            # An unexpected error keeps its class name: "IntegrityError: ..." says where to look.
            first_line = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
        failure = {
            "status": self.Status.FAILED,
            "started_at": self.started_at or finished,
            "finished_at": finished,
            "error": first_line[:500],
            "traceback": "".join(traceback.format_exception(exc)),
        }
        # One UPDATE whose WHERE holds the status: on PostgreSQL it waits for a COMMIT still on its
        # way, then sees the outcome it recorded.
        PushRun.objects.filter(pk=self.pk).exclude(status=self.Status.SUCCEEDED).update(**failure)
        try:
            # Everything, the counts too: what a failed attempt set on this object was not committed.
            self.refresh_from_db()
        except PushRun.DoesNotExist:
            for name, value in failure.items():
                setattr(self, name, value)


class PushedRecordQuerySet(models.QuerySet):
    def of_target(self, run: PushRun | int, label: str, action: str) -> PushedRecordQuerySet:
        """Return the ledger rows of one run, target and action."""
        return self.filter(run=run, target=label, action=action)


class PushedRecord(models.Model):
    """One attendance record a push created, or one check-out it filled: the ledger undo reads."""

    class Action(models.TextChoices):
        CREATED = "created", _("created")
        FILLED = "filled", _("check-out filled")

    # Indexed by the (run, person) index below, which the undo's lookups use.
    run = models.ForeignKey(
        PushRun, on_delete=models.CASCADE, related_name="records", verbose_name=_("run"), db_index=False
    )
    target = models.CharField(_("target"), max_length=100, help_text=_("The attendance model, app_label.Model."))
    # Text, so that integer and UUID primary keys of any host's people fit one column: the database's
    # own text of the key (ledger.person_key, ledger.person_text), whatever the write mode.
    person = models.CharField(_("person key"), max_length=64)
    day = models.DateField(_("day"))
    action = models.CharField(_("action"), max_length=7, choices=Action.choices)
    rule = models.PositiveSmallIntegerField(
        _("rule"), default=0, help_text=_("The target's rule that decided a created record (0: the first).")
    )
    # Only for a rule whose values are computed per row (a time read from the person, an expression):
    # the text of those columns as the database held them after the write (see ledger.fingerprint).
    # NULL, not "", for "none": most rows have none, and NULL never equals a record's fingerprint.
    fingerprint = models.TextField(  # noqa: DJ001
        _("fingerprint"),
        null=True,
        blank=True,
        help_text=_("The values computed per record, as written: an undo deletes only a record that still holds them."),
    )

    objects = PushedRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("pushed record")
        verbose_name_plural = _("pushed records")
        ordering = ["run", "target", "action", "person"]
        indexes = [
            # "Which records did this run write?" (undo, pruning and deleting runs). Without the
            # target: a person key is in at most one row per target, and a smaller index is a
            # cheaper push.
            models.Index(fields=["run", "person"], name="attendance_push_ledger_run"),
            # "Was this record pushed?" (PushedFilter).
            models.Index(fields=["day", "person"], name="attendance_push_ledger_key"),
        ]

    def __str__(self) -> str:
        return f"{self.target} {self.person} {self.day:%Y-%m-%d} ({self.get_action_display()})"


def validate_target_labels(value: object) -> None:
    """Raise ValidationError unless `value` is a list of the configured targets' attendance labels."""
    known = [target.label for target in conf.TARGETS]
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise ValidationError(_("Give a list of attendance labels such as %(example)s."), params={"example": known})
    unknown = [label for label in value if label not in known]
    if unknown:
        raise ValidationError(
            _("%(unknown)s: not an attendance model the push fills; choose among %(known)s (or none for all)."),
            code="unknown_target",
            params={"unknown": ", ".join(unknown), "known": ", ".join(known) or _("none configured")},
        )


TARGETS_HELP = _(
    'Attendance labels such as "school.StudentAttendance"; empty means every attendance model the push fills.'
)


class Closure(models.Model):
    """A break or an unplanned closure: no records are created on its days."""

    name = models.CharField(_("name"), max_length=200, help_text=_("Shown as the reason, e.g. “Winter break”."))
    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"), help_text=_("The same as the first day for a one-day closure."))
    targets = models.JSONField(
        _("attendance"), default=list, blank=True, validators=[validate_target_labels], help_text=TARGETS_HELP
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-first_day", "-pk"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")

    def __str__(self) -> str:
        if self.first_day == self.last_day:
            return f"{self.name} ({self.first_day:%Y-%m-%d})"
        return f"{self.name} ({self.first_day:%Y-%m-%d} – {self.last_day:%Y-%m-%d})"

    def clean(self) -> None:
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": _("The last day is before the first day.")})


class WorkingDay(models.Model):
    """A make-up day: open despite a weekly off or a holiday."""

    day = models.DateField(_("day"), db_index=True)
    name = models.CharField(_("name"), max_length=200, blank=True, help_text=_("e.g. “Make-up day for Dashain”."))
    targets = models.JSONField(
        _("attendance"), default=list, blank=True, validators=[validate_target_labels], help_text=TARGETS_HELP
    )

    class Meta:
        ordering = ["-day", "-pk"]
        verbose_name = _("working day")
        verbose_name_plural = _("working days")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.name}".strip()
