"""Retention: the ledger of old runs, and old runs themselves, deleted with age."""

from __future__ import annotations

import datetime

from django.db import router, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..conf import conf
from ..models import PushedRecord, PushRun
from ..results import PruneResult
from ..sql import raw_delete


def prune(*, dry_run: bool = False, now: datetime.datetime | None = None) -> PruneResult:
    """Delete the ledger of runs older than KEEP_LEDGER_DAYS and the runs older than KEEP_RUNS_DAYS."""
    now = now or timezone.now()
    ledger_rows = ledgers = runs = 0
    alias = router.db_for_write(PushRun)
    with transaction.atomic(using=alias):
        if conf.KEEP_LEDGER_DAYS is not None:
            old = PushRun.objects.using(alias).filter(
                created_at__lt=now - datetime.timedelta(days=conf.KEEP_LEDGER_DAYS)
            )
            with_ledger = old.filter(
                Exists(PushedRecord.objects.filter(run=OuterRef("pk"))), ledger_pruned_at__isnull=True
            )
            rows = PushedRecord.objects.using(alias).filter(run__in=old.values("pk"))
            if dry_run:
                ledgers, ledger_rows = with_ledger.count(), rows.count()
            else:
                ledgers = with_ledger.update(ledger_pruned_at=now)
                ledger_rows = raw_delete(rows, alias)
        if conf.KEEP_RUNS_DAYS is not None:
            # The newest run stays, however old: catch-up dates the installation from the runs, and
            # after a worker outage longer than KEEP_RUNS_DAYS an empty history would read as a new one.
            newest = PushRun.objects.using(alias).order_by("-created_at", "-pk").values("pk")[:1]
            old = (
                PushRun.objects.using(alias)
                .filter(created_at__lt=now - datetime.timedelta(days=conf.KEEP_RUNS_DAYS))
                .exclude(pk__in=newest)
            )
            rows = PushedRecord.objects.using(alias).filter(run__in=old.values("pk"))
            if dry_run:
                ledger_rows += rows.count()
                runs = old.count()
            else:
                # The runs' rows first, as the ledger's prune does with its UPDATE: an undo of one
                # of them (which holds its row) finishes before its ledger goes.
                list(old.select_for_update().values_list("pk", flat=True))
                ledger_rows += raw_delete(rows, alias)
                # An undo names the run it undid; once that run is gone the undo says so (SET NULL).
                PushRun.objects.using(alias).filter(undoes__in=old.values("pk")).update(undoes=None)
                runs = raw_delete(old, alias)
    return PruneResult(ledger_rows, ledgers, runs, dry_run=dry_run)
