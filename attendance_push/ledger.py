"""The ledger of pushed records: written with each push, read to undo one, pruned with age.

Every record a push creates and every check-out it fills gets a `PushedRecord` row in the push's
own transaction, set-based: on PostgreSQL the INSERT (or UPDATE) and its ledger rows are one
statement (a data-modifying CTE with RETURNING), so the ledger names exactly the rows written even
while devices write the same day; on SQLite, where a push holds the only write lock, the ledger
rows come first from the same SELECT, then the write, and the two counts must agree.
"""

from __future__ import annotations

import dataclasses
import datetime
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models, router, transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast
from django.db.models.sql.subqueries import UpdateQuery
from django.utils import timezone
from django.utils.translation import gettext as _

from .conf import Target, conf
from .exceptions import PushError
from .models import PushedRecord, PushRun


@dataclass(frozen=True)
class Entry:
    """Who the ledger rows of one write belong to: a run, a target, its day and the rule that decided."""

    run_id: int
    label: str
    day: datetime.date
    rule: int = 0

    def of_rule(self, index: int) -> Entry:
        return dataclasses.replace(self, rule=index)


def _table() -> str:
    return PushedRecord._meta.db_table


def _ledger_insert_sql(connection, entry: Entry, action: str, source: str, person_column: str) -> tuple[str, list]:
    """Return an INSERT of one ledger row per row of `source` (a FROM item with `person_column`)."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(PushedRecord._meta.get_field(name).column)
        for name in ("run", "target", "person", "day", "action", "rule")
    )
    day = PushedRecord._meta.get_field("day").get_db_prep_save(entry.day, connection)
    sql = (
        f"INSERT INTO {quote(_table())} ({columns}) "  # noqa: S608 (identifiers quoted by the backend)
        f"SELECT %s, %s, CAST(src.{quote(person_column)} AS varchar), %s, %s, %s FROM {source} src"
    )
    return sql, [entry.run_id, entry.label, day, action, entry.rule]


def record_insert(
    connection,
    entry: Entry | None,
    insert: tuple[str, list],
    people: tuple[str, list],
    person_column: str,
    returning_column: str,
) -> int:
    """Run the INSERT … SELECT `insert` and write a ledger row per inserted record; return how many.

    `people` is the SELECT of the persons the INSERT takes (its column `person_column`);
    `returning_column` is the person column of the attendance table.
    """
    insert_sql, insert_params = insert
    with connection.cursor() as cursor:
        if entry is None:
            cursor.execute(insert_sql, insert_params)
            return max(cursor.rowcount, 0)
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            ledger_sql, ledger_params = _ledger_insert_sql(
                connection, entry, PushedRecord.Action.CREATED, "pushed", returning_column
            )
            cursor.execute(
                f"WITH pushed AS ({insert_sql} RETURNING {quote(returning_column)}) {ledger_sql}",
                [*insert_params, *ledger_params],
            )
            return max(cursor.rowcount, 0)
        select_sql, select_params = people
        ledger_sql, ledger_params = _ledger_insert_sql(
            connection, entry, PushedRecord.Action.CREATED, f"({select_sql})", person_column
        )
        cursor.execute(ledger_sql, [*ledger_params, *select_params])
        claimed = max(cursor.rowcount, 0)
        cursor.execute(insert_sql, insert_params)
        written = max(cursor.rowcount, 0)
    _agree(entry, claimed, written)
    return written


def record_fill(
    connection,
    entry: Entry | None,
    to_fill: models.QuerySet,
    values: dict[str, Any],
    person_field: str,
    alias: str,
) -> int:
    """Set `values` on the records of `to_fill` in one UPDATE and write a ledger row per record; return how many."""
    if entry is None:
        return to_fill.update(**values)
    model = to_fill.model
    person = model._meta.get_field(person_field)
    if connection.vendor == "postgresql":
        # Django's own UPDATE (values may be expressions per row), returning each filled person.
        query = to_fill.query.chain(UpdateQuery)
        query.add_update_values(values)
        update_sql, update_params = query.get_compiler(alias).as_sql()
        quote = connection.ops.quote_name
        ledger_sql, ledger_params = _ledger_insert_sql(
            connection, entry, PushedRecord.Action.FILLED, "filled", person.column
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH filled AS ({update_sql} RETURNING {quote(person.column)}) {ledger_sql}",
                [*update_params, *ledger_params],
            )
            return max(cursor.rowcount, 0)
    select_sql, select_params = to_fill.values_list(person.attname).query.get_compiler(alias).as_sql()
    ledger_sql, ledger_params = _ledger_insert_sql(
        connection, entry, PushedRecord.Action.FILLED, f"({select_sql})", person.column
    )
    with connection.cursor() as cursor:
        cursor.execute(ledger_sql, [*ledger_params, *select_params])
        claimed = max(cursor.rowcount, 0)
    written = to_fill.update(**values)
    _agree(entry, claimed, written)
    return written


def record_people(entry: Entry | None, action: str, people: list[Any], alias: str) -> None:
    """Write a ledger row for each of `people` (keys already in Python: the `save` write mode)."""
    if entry is None or not people:
        return
    PushedRecord.objects.using(alias).bulk_create(
        [
            PushedRecord(run_id=entry.run_id, target=entry.label, person=str(person), day=entry.day, action=action)
            for person in people
        ],
        batch_size=500,
    )


def _agree(entry: Entry, claimed: int, written: int) -> None:
    if claimed != written:
        # Another writer changed the day between the two statements: roll back rather than let the
        # ledger name records the push did not write.
        raise PushError(
            _(
                "%(target)s: the day changed while it was pushed (%(claimed)d records expected, %(written)d written); "
                "nothing was written, push it again."
            )
            % {"target": entry.label, "claimed": claimed, "written": written}
        )


def person_key(person_attname: str) -> Cast:
    """Return the expression of a record's person key as the ledger stores it (text)."""
    return Cast(OuterRef(person_attname), output_field=CharField())


def _constant(expression: Any) -> tuple[bool, Any]:
    """Return (True, value) when `expression` is a constant the push wrote as such, else (False, None)."""
    if isinstance(expression, Cast):
        inner = expression.get_source_expressions()[0]
        if isinstance(inner, Value) and inner.value is None:
            return True, None
    if isinstance(expression, Value):
        return True, expression.value
    if hasattr(expression, "resolve_expression"):
        return False, None
    return True, expression


def rule_values(target: Target, values: dict[models.Field, Any]) -> dict[str, Any]:
    """Return the constant columns one rule wrote (attname: value): what an undo compares a record with.

    Columns computed per row (F(), a time read from the person) cannot be compared and are left out;
    so are the day, the primary key and the auto_now timestamps.
    """
    compared = {}
    for field, expression in values.items():
        if field.primary_key or field.name == target.date_field:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        constant, value = _constant(expression)
        if constant:
            compared[field.attname] = value
    return compared


def pushed_values(target: Target, rules: list[dict[str, Any] | None], check_out: Any) -> dict[str, Any]:
    """Return what a push of `target` wrote, for its run: the field names an undo needs and the values.

    `rules` holds, per rule index (the ledger's `rule`), the constant columns of its records (None for
    a skip rule); `check_out` is the check-out filled (an expression per row is not kept).
    """
    check_out_field = target.model._meta.get_field(target.check_out_field).attname if target.check_out_field else None
    constant, value = _constant(check_out)
    return {
        "person_field": target.model._meta.get_field(target.person_field).attname,
        "date_field": target.date_field,
        "check_out_field": check_out_field,
        "write": target.write,
        "rules": rules,
        "filled": {check_out_field: value} if check_out_field and check_out is not None and constant else {},
    }


def all_constant(values: dict[models.Field, Any]) -> bool:
    """Return whether every column a rule writes is a constant (so an UPDATE can set it to what it would insert)."""
    return all(_constant(expression)[0] for expression in values.values())


# Corrections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a rule of the current settings gives its people: constant values, no record (skip), or
    values computed per row (None, not skip), which a correction cannot write."""

    rule: int
    values: dict[str, Any] | None
    skip: bool = False


def correct_earlier(
    target: Target,
    entry: Entry,
    decisions: list[tuple[Decision, models.QuerySet]],
    alias: str,
) -> int:
    """Correct the records earlier pushes of the day created, that nobody changed since, and that the
    rules now decide otherwise; return how many.

    A record whose person another rule now matches gets that rule's values (leave approved after the
    evening push: Present becomes Leave), and its ledger row moves to this run; a record of a person a
    skip rule now matches is deleted. People no longer expected at all are left alone: `people_filter`
    says who is active now, not then. A constant number of statements per earlier run and pair of
    rules, whatever the number of people.
    """
    model = target.model
    label = entry.label
    person = model._meta.get_field(target.person_field)
    key = person.target_field.name
    undone = PushRun.objects.filter(undoes=OuterRef("pk"), status=PushRun.Status.SUCCEEDED)
    earlier = list(
        PushRun.objects.filter(
            ~Exists(undone),
            Exists(PushedRecord.objects.filter(run=OuterRef("pk"), target=label, action=PushedRecord.Action.CREATED)),
            date=entry.day,
            status=PushRun.Status.SUCCEEDED,
            ledger_pruned_at__isnull=True,
        )
        .exclude(pk=entry.run_id)
        .only("pk", "pushed")
    )
    records = model._default_manager.using(alias).filter(**{target.date_field: entry.day}).order_by()
    corrected = 0
    for run in earlier:
        spec = run.pushed.get(label)
        if not spec:
            continue
        for old_rule, old in enumerate(spec["rules"]):
            if old is None:
                continue
            held = records.filter(
                _ledger_of(run, label, PushedRecord.Action.CREATED, spec, rule=old_rule), **_typed(model, old)
            )
            for decision, people in decisions:
                if decision.values is not None and _typed(model, decision.values) == _typed(model, old):
                    continue  # the same record either way
                mine = held.filter(Exists(people.filter(**{key: OuterRef(person.attname)})))
                if decision.skip:
                    corrected += (
                        mine.delete()[1].get(label, 0) if spec["write"] != "save" else _delete_each(mine, alias)
                    )
                    continue
                if decision.values is None:
                    continue  # values per row: left as they are
                # The ledger row first (while the record still holds the old values), then the record.
                moved = PushedRecord.objects.filter(
                    Exists(mine.filter(**{person.attname: Cast(OuterRef("person"), output_field=person.target_field)})),
                    run=run,
                    target=label,
                    action=PushedRecord.Action.CREATED,
                    rule=old_rule,
                ).update(run_id=entry.run_id, rule=decision.rule)
                if moved:
                    now_mine = records.filter(
                        _ledger_of_run(entry.run_id, entry.day, label, spec, decision.rule), **_typed(model, old)
                    )
                    corrected += now_mine.update(**_typed(model, decision.values), **_auto_now(model))
    return corrected


def _delete_each(records: models.QuerySet, alias: str) -> int:
    deleted = 0
    for record in list(records.select_for_update()):
        record.delete(using=alias)
        deleted += 1
    return deleted


def _ledger_of_run(run_id: int, day: datetime.date, label: str, spec: dict[str, Any], rule: int) -> Exists:
    return Exists(
        PushedRecord.objects.filter(
            run_id=run_id,
            day=day,
            target=label,
            action=PushedRecord.Action.CREATED,
            rule=rule,
            person=person_key(spec["person_field"]),
        )
    )


# Undo -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetUndo:
    """What undoing a run did (or, in a dry run, would do) to one attendance model."""

    label: str
    deleted: int
    cleared: int
    kept: int


@dataclass(frozen=True)
class UndoResult:
    """What undoing one run did to every target it pushed."""

    run_id: int
    day: datetime.date
    targets: tuple[TargetUndo, ...] = ()
    dry_run: bool = False

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.targets)

    @property
    def cleared(self) -> int:
        return sum(t.cleared for t in self.targets)

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.targets)

    def counts(self) -> dict[str, dict[str, int]]:
        return {t.label: {"deleted": t.deleted, "cleared": t.cleared, "kept": t.kept} for t in self.targets}

    def summary(self) -> str:
        return _(
            "%(deleted)d records deleted, %(cleared)d check-outs cleared, kept %(kept)d changed since the push"
        ) % {"deleted": self.deleted, "cleared": self.cleared, "kept": self.kept}


def undone_by(run: PushRun) -> PushRun | None:
    """Return the succeeded undo of `run`, or None."""
    return run.undone_by.filter(status=PushRun.Status.SUCCEEDED).order_by("pk").first()


def refusal(run: PushRun) -> str | None:
    """Return why `run` cannot be undone, or None when it can."""
    if run.trigger == PushRun.Trigger.UNDO:
        return _("Run %(run)d is itself an undo; push %(day)s again instead.") % {
            "run": run.pk,
            "day": f"{run.date:%Y-%m-%d}",
        }
    if run.status != PushRun.Status.SUCCEEDED:
        return _("Run %(run)d did not succeed (%(status)s): it wrote nothing to undo.") % {
            "run": run.pk,
            "status": run.get_status_display().lower(),
        }
    undo = undone_by(run)
    if undo is not None:
        return _("Run %(run)d was already undone by run %(undo)d.") % {"run": run.pk, "undo": undo.pk}
    if run.ledger_pruned_at is not None:
        return _(
            "The ledger of run %(run)d was pruned on %(when)s (KEEP_LEDGER_DAYS): its records can no longer be told "
            "apart from anyone else's."
        ) % {"run": run.pk, "when": f"{timezone.localtime(run.ledger_pruned_at):%Y-%m-%d}"}
    if not run.pushed:
        if run.created or run.filled:
            return _(
                "Run %(run)d has no ledger (it ran before the ledger existed): its records cannot be told apart."
            ) % {"run": run.pk}
        return _("Run %(run)d wrote nothing: there is nothing to undo.") % {"run": run.pk}
    return None


def undo(run: PushRun, *, dry_run: bool = False, undo_run: PushRun | None = None) -> UndoResult:
    """Undo the push `run` in one transaction under its day's lock, or (dry run) count what it would do.

    Raise PushError (and write nothing) when `run` cannot be undone. With `undo_run`, mark it
    succeeded in the same transaction, so that a second undo waiting on the lock sees it.
    """
    reason = refusal(run)
    if reason:
        raise PushError(reason)
    if dry_run:
        return UndoResult(
            run.pk,
            run.date,
            tuple(_undo_target(run, label, spec, dry_run=True) for label, spec in run.pushed.items()),
            dry_run=True,
        )
    from .service import _lock_day

    aliases = sorted({router.db_for_write(PushRun), *(router.db_for_write(_model(run, label)) for label in run.pushed)})
    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(transaction.atomic(using=alias))
            _lock_day(alias, run.date)
        # Another undo may have finished while this one waited for the lock.
        reason = refusal(PushRun.objects.get(pk=run.pk))
        if reason:
            raise PushError(reason)
        result = UndoResult(
            run.pk, run.date, tuple(_undo_target(run, label, spec, dry_run=False) for label, spec in run.pushed.items())
        )
        if undo_run is not None:
            undo_run.mark_undone(result)
    return result


def _records(model: type[models.Model], spec: dict[str, Any], day: datetime.date, alias: str) -> models.QuerySet:
    return model._default_manager.using(alias).filter(**{spec["date_field"]: day}).order_by()


def _ledger_of(run: PushRun, label: str, action: str, spec: dict[str, Any], rule: int | None = None) -> Exists:
    rows = PushedRecord.objects.filter(
        day=run.date, target=label, run=run, action=action, person=person_key(spec["person_field"])
    )
    return Exists(rows if rule is None else rows.filter(rule=rule))


def _typed(model: type[models.Model], values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` (from JSON) as Python values of the model's fields, keyed by attname."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return {name: None if value is None else by_attname[name].to_python(value) for name, value in values.items()}


def _model(run: PushRun, label: str) -> type[models.Model]:
    try:
        return apps.get_model(label)
    except LookupError:
        raise PushError(
            _("%(target)s, pushed by run %(run)d, is no longer installed.") % {"target": label, "run": run.pk}
        ) from None


def _undo_target(run: PushRun, label: str, spec: dict[str, Any], *, dry_run: bool) -> TargetUndo:
    model = _model(run, label)
    alias = router.db_for_write(model)
    records = _records(model, spec, run.date, alias)
    created = records.filter(_ledger_of(run, label, PushedRecord.Action.CREATED, spec))
    # Counted before a dry run deletes nothing; after a real one, what is left of the run's records
    # is what was kept, which spares a count of all of them.
    total = created.count() if dry_run else 0
    deleted = cleared = 0
    for index, values in enumerate(spec["rules"]):
        if values is None:
            continue
        # Only records the rule wrote, still holding what it wrote: one statement per rule.
        unchanged = records.filter(
            _ledger_of(run, label, PushedRecord.Action.CREATED, spec, rule=index), **_typed(model, values)
        )
        if dry_run:
            deleted += unchanged.count()
        elif spec["write"] == "save":
            # Through the model, so that its delete() and signals run, as its save() did.
            for record in list(unchanged.select_for_update()):
                record.delete(using=alias)
                deleted += 1
        else:
            deleted += unchanged.delete()[1].get(label, 0)
    kept = total - deleted if dry_run else created.count()
    check_out = spec["check_out_field"]
    if not check_out:
        return TargetUndo(label, deleted, cleared, kept)
    filled = records.filter(_ledger_of(run, label, PushedRecord.Action.FILLED, spec))
    if not spec["filled"]:
        # A check-out computed per person cannot be compared with what it was: keep those fills.
        return TargetUndo(label, deleted, cleared, kept + filled.count())
    pushed_out = _typed(model, spec["filled"])[check_out]
    still = filled.filter(**{check_out: pushed_out})
    if dry_run:
        cleared = still.count()
        kept += filled.exclude(**{check_out: pushed_out}).exclude(**{f"{check_out}__isnull": True}).count()
        return TargetUndo(label, deleted, cleared, kept)
    if spec["write"] == "save":
        for record in list(still.select_for_update()):
            setattr(record, check_out, None)
            record.save(using=alias)
            cleared += 1
    else:
        cleared = still.update(**{check_out: None}, **_auto_now(model))
    # Cleared ones are empty now: a check-out still there is one a person wrote.
    kept += filled.filter(**{f"{check_out}__isnull": False}).count()
    return TargetUndo(label, deleted, cleared, kept)


def _auto_now(model: type[models.Model]) -> dict[str, Any]:
    """Return the `auto_now` fields of `model` set to now, as `QuerySet.update()` leaves them alone."""
    blank = model()
    return {
        field.name: field.pre_save(blank, add=False)
        for field in model._meta.concrete_fields
        if getattr(field, "auto_now", False)
    }


# Retention ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    """What pruning removed (or, in a dry run, would remove)."""

    ledger_rows: int
    ledgers: int
    runs: int
    dry_run: bool = False


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
                ledger_rows = rows._raw_delete(alias)
        if conf.KEEP_RUNS_DAYS is not None:
            old = PushRun.objects.using(alias).filter(created_at__lt=now - datetime.timedelta(days=conf.KEEP_RUNS_DAYS))
            rows = PushedRecord.objects.using(alias).filter(run__in=old.values("pk"))
            if dry_run:
                ledger_rows += rows.count()
                runs = old.count()
            else:
                ledger_rows += rows._raw_delete(alias)
                # An undo names the run it undid; once that run is gone the undo says so (SET NULL).
                PushRun.objects.using(alias).filter(undoes__in=old.values("pk")).update(undoes=None)
                runs = old._raw_delete(alias)
    return PruneResult(ledger_rows, ledgers, runs, dry_run=dry_run)
