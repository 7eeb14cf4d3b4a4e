"""`manage.py prune_push_history`: delete the ledger and runs older than the retention settings."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from attendance_push.conf import conf
from attendance_push.ledger.prune import prune


class Command(BaseCommand):
    help = (
        "Delete the ledger of push runs older than ATTENDANCE_PUSH['KEEP_LEDGER_DAYS'] and the runs older than "
        "ATTENDANCE_PUSH['KEEP_RUNS_DAYS'] (the worker does this once a day)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print what would be deleted and delete nothing.")

    def handle(self, *, dry_run: bool, verbosity: int, **options) -> None:
        result = prune(dry_run=dry_run)
        if verbosity < 1:
            return
        if dry_run:
            text = _(
                "Would delete %(rows)d ledger rows (%(ledgers)d runs' ledgers, KEEP_LEDGER_DAYS=%(keep_ledger)s) "
                "and %(runs)d runs (KEEP_RUNS_DAYS=%(keep_runs)s)."
            )
        else:
            text = _(
                "Deleted %(rows)d ledger rows (%(ledgers)d runs' ledgers, KEEP_LEDGER_DAYS=%(keep_ledger)s) "
                "and %(runs)d runs (KEEP_RUNS_DAYS=%(keep_runs)s)."
            )
        self.stdout.write(
            text
            % {
                "rows": result.ledger_rows,
                "ledgers": result.ledgers,
                "keep_ledger": conf.KEEP_LEDGER_DAYS,
                "runs": result.runs,
                "keep_runs": conf.KEEP_RUNS_DAYS,
            }
        )
