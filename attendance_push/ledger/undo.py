"""Undo of a push: delete the records it created and clear the check-outs it filled, where nobody changed them."""

from __future__ import annotations

from django.apps import apps
from django.db import models, router
from django.db.models import Exists, OuterRef

from .. import text
from ..exceptions import PushError
from ..locks import day_lock
from ..models import PushedRecord, PushRun
from ..results import PushedSpec, TargetUndo, UndoResult, read_pushed
from .held import auto_now, delete, ledger_of, run_records, typed, undone_by, unedited
from .write import fingerprint, person_key


def refusal(run: PushRun) -> str | None:
    """Return why `run` cannot be undone, or None when it can."""
    if run.trigger == PushRun.Trigger.UNDO:
        return text.undo_of_undo(run)
    if run.status != PushRun.Status.SUCCEEDED:
        return text.undo_of_unsucceeded(run)
    undo_run = undone_by(run)
    if undo_run is not None:
        return text.already_undone(run, undo_run)
    if run.ledger_pruned_at is not None:
        return text.ledger_pruned(run)
    if not run.pushed:
        if run.created or run.filled:
            return text.no_ledger(run)
        return text.wrote_nothing(run)
    return None


def undo(run: PushRun, *, dry_run: bool = False, undo_run: PushRun | None = None) -> UndoResult:
    """Undo the push `run` in one transaction under its day's lock, or (dry run) count what it would do.

    Raise PushError (and write nothing) when `run` cannot be undone. With `undo_run`, mark it
    succeeded in the same transaction, so that a second undo waiting on the lock sees it.
    """
    reason = refusal(run)
    if reason:
        raise PushError(reason)
    specs = read_pushed(run.pushed)
    if dry_run:
        return UndoResult(
            run.pk,
            run.date,
            tuple(_undo_target(run, label, spec, dry_run=True) for label, spec in specs.items()),
            dry_run=True,
        )
    runs_alias = router.db_for_write(PushRun)
    attendance = {router.db_for_write(_model(run, label)) for label in specs} - {runs_alias}
    # The history's database first, so that it commits last: where the history is on another
    # database than the attendance, an undo recorded done is one whose deletions committed, and one
    # whose deletions did not commit is rolled back with them.
    with day_lock([runs_alias], run.date), day_lock(attendance, run.date):
        # Another undo may have finished while this one waited for the lock. The run's row stays
        # locked until the undo commits: a prune of its ledger waits for it, rather than deleting
        # the ledger between this check and the statements that read it.
        locked = PushRun.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None:
            # Deleted by a prune of old runs (KEEP_RUNS_DAYS) while this undo waited for the lock.
            raise PushError(text.run_pruned(run.pk))
        reason = refusal(locked)
        if reason:
            raise PushError(reason)
        result = UndoResult(
            run.pk, run.date, tuple(_undo_target(run, label, spec, dry_run=False) for label, spec in specs.items())
        )
        if undo_run is not None:
            undo_run.mark_undone(result)
    return result


def _model(run: PushRun, label: str) -> type[models.Model]:
    try:
        return apps.get_model(label)
    except LookupError:
        raise PushError(text.target_gone(label, run.pk)) from None


def _undo_target(run: PushRun, label: str, spec: PushedSpec, *, dry_run: bool) -> TargetUndo:
    model = _model(run, label)
    alias = router.db_for_write(model)
    records = run_records(model, spec, run.date, alias)
    created = records.filter(ledger_of(run, label, PushedRecord.Action.CREATED, spec))
    # Counted before a dry run deletes nothing; after a real one, what is left of the run's records
    # is what was kept, which spares a count of all of them.
    total = created.count() if dry_run else 0
    deleted = cleared = 0
    for index, values in enumerate(spec.rules):
        if values is None:
            continue
        # Only records the rule wrote, still holding what it wrote: one statement per rule.
        unchanged = unedited(records, run, label, spec, index)
        if dry_run:
            deleted += unchanged.count()
        else:
            deleted += delete(unchanged, spec, label, alias)
    kept = total - deleted if dry_run else created.count()
    check_out = spec.check_out_field
    if not check_out:
        return TargetUndo(label, deleted, cleared, kept)
    filled = records.filter(ledger_of(run, label, PushedRecord.Action.FILLED, spec))
    if spec.filled_rows:
        # A check-out computed per person: still the one the push wrote when its fingerprint matches.
        still = records.alias(attendance_push_fingerprint=fingerprint(spec.filled_rows)).filter(
            Exists(
                PushedRecord.objects.filter(
                    day=run.date,
                    target=label,
                    run=run,
                    action=PushedRecord.Action.FILLED,
                    person=person_key(spec.person_field),
                    fingerprint=OuterRef("attendance_push_fingerprint"),
                )
            ),
            **{f"{check_out}__isnull": False},
        )
    elif spec.filled:
        still = filled.filter(**{check_out: typed(model, spec.filled)[check_out]})
    else:
        # A run from before check-outs computed per person were fingerprinted: nothing to compare with.
        return TargetUndo(label, deleted, cleared, kept + filled.count())
    if dry_run:
        cleared = still.count()
        kept += filled.filter(**{f"{check_out}__isnull": False}).count() - cleared
        return TargetUndo(label, deleted, cleared, kept)
    if spec.write == "save":
        for record in list(still.select_for_update()):
            setattr(record, check_out, None)
            record.save(using=alias)
            cleared += 1
    else:
        cleared = still.update(**{check_out: None}, **auto_now(model))
    # Cleared ones are empty now: a check-out still there is one a person wrote.
    kept += filled.filter(**{f"{check_out}__isnull": False}).count()
    return TargetUndo(label, deleted, cleared, kept)
