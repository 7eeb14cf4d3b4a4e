"""`manage.py prune_push_history`: delete the ledger and runs older than the retention settings."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand

from attendance_push.conf import conf
from attendance_push.ledger import prune


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
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.ledger_rows} ledger rows ({result.ledgers} runs' ledgers, KEEP_LEDGER_DAYS="
            f"{conf.KEEP_LEDGER_DAYS}) and {result.runs} runs (KEEP_RUNS_DAYS={conf.KEEP_RUNS_DAYS})."
        )
