"""`manage.py undo_push RUN_ID`: undo one push, keeping the records changed since."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from attendance_push.exceptions import PushError
from attendance_push.ledger.undo import undo
from attendance_push.models import PushRun
from attendance_push.results import TargetCounts, read_counts
from attendance_push.runs import run_undo, start_undo
from attendance_push.text import undo_summary


def run_id(value: str) -> int:
    """Parse a PushRun id for argparse."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(_("%(value)r is not a run id (a whole number).") % {"value": value})
    return number


class Command(BaseCommand):
    help = (
        "Undo the push recorded as PushRun RUN_ID: delete the records it created and clear the check-outs it "
        "filled, except those changed since. The undo is recorded as a PushRun of its own."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run_id", type=run_id, metavar="RUN_ID", help="The id of the push run to undo.")
        parser.add_argument("--dry-run", action="store_true", help="Print what the undo would do and write nothing.")

    def handle(self, *, run_id: int, dry_run: bool, verbosity: int, **options) -> None:
        run = PushRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(_("There is no push run %(run)s.") % {"run": run_id})
        try:
            preview = undo(run, dry_run=True)
        except PushError as exc:
            raise CommandError(str(exc)) from None
        if dry_run:
            heading = _("Undoing run %(run)s (%(day)s) would:") % {"run": run.pk, "day": f"{run.date:%Y-%m-%d}"}
            self._report(heading, read_counts(preview.counts()), verbosity)
            return
        try:
            # Refused without a run when another undo got there since the preview.
            undo_run = run_undo(run, run=start_undo(run))
        except PushError as exc:
            raise CommandError(str(exc)) from None
        if undo_run.status != PushRun.Status.SUCCEEDED:
            raise CommandError(
                _("Undo of run %(run)s failed (PushRun %(undo)s): %(error)s")
                % {"run": run.pk, "undo": undo_run.pk, "error": undo_run.error}
            )
        heading = _("Undid run %(run)s (%(day)s) as PushRun %(undo)s:") % {
            "run": run.pk,
            "day": f"{run.date:%Y-%m-%d}",
            "undo": undo_run.pk,
        }
        self._report(heading, undo_run.target_counts, verbosity)

    def _report(self, heading: str, counts: dict[str, TargetCounts], verbosity: int) -> None:
        if verbosity < 1:
            return
        self.stdout.write(heading)
        for label, count in counts.items():
            self.stdout.write(f"  {label}: " + undo_summary(count.deleted, count.cleared, count.kept))
