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
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connections, models, router, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, Length
from django.db.models.sql.subqueries import UpdateQuery
from django.utils import timezone
from django.utils.translation import gettext as _

from .conf import Target, conf
from .exceptions import PushError
from .models import PushedRecord, PushRun


@dataclass(frozen=True)
class Entry:
    """Who the ledger rows of one write belong to: a run, a target, its day and the rule that decided."""

    run_id: int | None  # None: a dry run
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


def record_people(entry: Entry | None, action: str, people: list[Any], key: models.Field, alias: str) -> None:
    """Write a ledger row for each of `people` (values of the person model's `key`, in Python: the `save`
    write mode)."""
    if entry is None or not people:
        return
    connection = connections[alias]
    PushedRecord.objects.using(alias).bulk_create(
        [
            PushedRecord(
                run_id=entry.run_id,
                target=entry.label,
                person=person_text(key, person, connection),
                day=entry.day,
                action=action,
                rule=entry.rule,
            )
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


def person_text(key: models.Field, value: Any, connection) -> str:
    """Return the ledger's text of a person key held in Python, the one `person_key` gives in SQL.

    The database's own text of the stored value, so that both write modes enter a person alike:
    a UUID is 32 hex digits on SQLite (which stores it so), hyphenated on PostgreSQL.
    """
    return str(key.get_db_prep_value(key.to_python(value), connection, prepared=False))


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


def _compared(target: Target, values: dict[models.Field, Any]):
    for field, expression in values.items():
        if field.primary_key or field.name == target.date_field:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        yield field, expression


def rule_values(target: Target, values: dict[models.Field, Any]) -> dict[str, Any]:
    """Return the constant columns one rule wrote (attname: value): what an undo compares a record with.

    Columns computed per row (F(), a time read from the person) are in `rule_rows`; the day, the
    primary key and the auto_now timestamps are compared with nothing.
    """
    compared = {}
    for field, expression in _compared(target, values):
        constant, value = _constant(expression)
        if constant:
            compared[field.attname] = value
    return compared


def rule_rows(target: Target, values: dict[models.Field, Any]) -> dict[str, Any]:
    """Return the columns one rule computes per row (attname: expression): what the ledger fingerprints."""
    return {
        field.attname: expression for field, expression in _compared(target, values) if not _constant(expression)[0]
    }


def fingerprint(columns: list[str]) -> Any:
    """Return the text of a record's `columns` as the database holds them (the same text for the same values).

    Each column gives its length, a colon and its text, or "-" when NULL: no two rows of values give
    the same text. Built by the ORM on the database that holds the record, at the push and at the
    undo alike, so that comparing the two texts compares the values exactly.
    """
    parts = []
    for attname in columns:
        text = Cast(F(attname), output_field=TextField())
        parts.append(
            Case(
                When(**{f"{attname}__isnull": True}, then=Value("-", output_field=TextField())),
                default=Concat(
                    Cast(Length(text), output_field=TextField()),
                    Value(":", output_field=TextField()),
                    text,
                    output_field=TextField(),
                ),
                output_field=TextField(),
            )
        )
    return parts[0] if len(parts) == 1 else Concat(*parts, output_field=TextField())


def record_fingerprints(target: Target, entry: Entry | None, action: str, columns: list[str], alias: str) -> None:
    """Keep, on the ledger rows of `entry` (its rule) and `action`, the fingerprint of each record's `columns`.

    One UPDATE of the ledger rows from the records, after the write: what the database holds then.
    """
    if entry is None or not columns:
        return
    person = target.model._meta.get_field(target.person_field)
    record = (
        target.model._default_manager.using(alias)
        .filter(
            **{target.date_field: entry.day, person.attname: Cast(OuterRef("person"), output_field=person.target_field)}
        )
        .order_by()
        .annotate(attendance_push_fingerprint=fingerprint(columns))
        .values("attendance_push_fingerprint")[:1]
    )
    PushedRecord.objects.using(alias).filter(
        run_id=entry.run_id, target=entry.label, action=action, rule=entry.rule
    ).update(fingerprint=Subquery(record))


def pushed_values(
    target: Target, rules: list[dict[str, Any] | None], check_out: Any, rows: list[list[str] | None] | None = None
) -> dict[str, Any]:
    """Return what a push of `target` wrote, for its run: the field names an undo needs and the values.

    `rules` holds, per rule index (the ledger's `rule`), the constant columns of its records (None for
    a skip rule), and `rows` the columns it computed per row (fingerprinted in the ledger);
    `check_out` is the check-out filled: a constant is kept here, one computed per row is
    fingerprinted (`filled_rows`).
    """
    check_out_field = target.model._meta.get_field(target.check_out_field).attname if target.check_out_field else None
    constant, value = _constant(check_out)
    filled_per_row = bool(check_out_field and check_out is not None and not constant)
    return {
        "person_field": target.model._meta.get_field(target.person_field).attname,
        "date_field": target.date_field,
        "check_out_field": check_out_field,
        "write": target.write,
        "rules": rules,
        "rows": rows if rows is not None else [None if r is None else [] for r in rules],
        "filled": {check_out_field: value} if check_out_field and check_out is not None and constant else {},
        "filled_rows": [check_out_field] if filled_per_row else [],
    }


def filled_rows(target: Target, check_out: Any) -> list[str]:
    """Return the columns of a filled record the ledger fingerprints: the check-out when computed per row."""
    if not target.check_out_field or check_out is None or _constant(check_out)[0]:
        return []
    return [target.model._meta.get_field(target.check_out_field).attname]


# Corrections and withdrawals --------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a rule of the current settings gives its people: no record (skip), or its constant values
    (attname: value, as the ledger keeps them) and its values computed per row (attname: expression
    for an UPDATE of the record, person paths read by correlated subqueries)."""

    rule: int
    values: dict[str, Any] | None
    skip: bool = False
    rows: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)


class _Differs(Func):
    """Whether two values differ, NULL being a value like any other (never NULL itself)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        lhs, rhs = self.get_source_expressions()
        lhs_sql, lhs_params = compiler.compile(lhs)
        rhs_sql, rhs_params = compiler.compile(rhs)
        operator = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
        return f"({lhs_sql} {operator} {rhs_sql})", (*lhs_params, *rhs_params)


def _standing_pushes() -> models.QuerySet:
    """Return the succeeded, not undone runs whose ledger is kept, with what they wrote: those whose
    records may still stand as they pushed them."""
    undone = PushRun.objects.filter(undoes=OuterRef("pk"), status=PushRun.Status.SUCCEEDED)
    return (
        PushRun.objects.filter(~Exists(undone), status=PushRun.Status.SUCCEEDED, ledger_pruned_at__isnull=True)
        .only("pk", "date", "pushed", "counts", "include_closed")
        .order_by("pk")
    )


def forced_closed(run: PushRun, label: str) -> bool:
    """Return whether `run` created `label`'s records on a day closed for it, asked to (include_closed)."""
    return bool(run.include_closed and run.counts.get(label, {}).get("closed"))


def earlier_runs(label: str, day: datetime.date, exclude: int | None) -> list[tuple[PushRun, dict[str, Any]]]:
    """Return the succeeded, not undone runs of `day` whose ledger (not pruned) holds records they created
    for `label`, with what they wrote (one query)."""
    created = PushedRecord.objects.filter(run=OuterRef("pk"), target=label, action=PushedRecord.Action.CREATED)
    runs = _standing_pushes().filter(Exists(created), date=day).exclude(pk=exclude)
    return [(run, run.pushed[label]) for run in runs if run.pushed.get(label)]


def withdraw_earlier(
    target: Target,
    runs: list[tuple[PushRun, dict[str, Any]]],
    alias: str,
    *,
    closed: bool,
    outside: Exists | None,
    dry_run: bool = False,
) -> int:
    """Delete the records earlier pushes of the day created, that nobody changed since, and that are now
    false: all of them where the day is now `closed` for the target, else those of people the
    target's `people_on_day` now excludes (`outside`, the condition on a record). Return how many.

    Runs that created records on a day closed then, on purpose (include_closed), keep them. Filled
    check-outs are left alone. The ledger rows of withdrawn records go with them.
    """
    if not closed and outside is None:
        return 0
    label = target.label
    model = target.model
    person = model._meta.get_field(target.person_field)
    withdrawn = 0
    for run, spec in runs:
        if closed and forced_closed(run, label):
            continue
        records = _records(model, spec, run.date, alias)
        day_records = records
        if not closed:
            records = records.filter(outside)
        for rule, values in enumerate(spec["rules"]):
            if values is None:
                continue
            gone = _unedited(records, run, label, spec, rule)
            if dry_run:
                withdrawn += gone.count()
                continue
            deleted = _delete(gone, spec, label, alias)
            if deleted:
                withdrawn += deleted
                PushedRecord.objects.using(alias).filter(
                    ~Exists(
                        day_records.filter(
                            **{person.attname: Cast(OuterRef("person"), output_field=person.target_field)}
                        )
                    ),
                    run=run,
                    target=label,
                    action=PushedRecord.Action.CREATED,
                    rule=rule,
                )._raw_delete(alias)
    return withdrawn


def correct_earlier(
    target: Target,
    entry: Entry,
    decisions: list[tuple[Decision, models.QuerySet]],
    alias: str,
    runs: list[tuple[PushRun, dict[str, Any]]],
    *,
    dry_run: bool = False,
) -> int:
    """Correct the records earlier pushes of the day (`runs`) created, that nobody changed since, and that
    the rules now decide otherwise; return how many changed (or, in a dry run, would change).

    A record whose person another rule now decides gets that rule's values, constant or computed per
    row (leave approved after the evening push: Present becomes Leave), and its ledger row moves to
    this run; a record of a person a skip rule now matches is deleted. People no longer expected
    at all are left to `withdraw_earlier`: `people_filter` says who is active now, not then. A
    constant number of statements per earlier run and pair of rules, whatever the number of people.
    With a dry run, `entry.run_id` may be None.
    """
    model = target.model
    label = entry.label
    person = model._meta.get_field(target.person_field)
    key = person.target_field.name
    records = model._default_manager.using(alias).filter(**{target.date_field: entry.day}).order_by()
    corrected = 0
    moved_to: dict[int, Decision] = {}
    for run, spec in runs:
        for old_rule, old in enumerate(spec["rules"]):
            if old is None:
                continue
            held = _unedited(records, run, label, spec, old_rule)
            for decision, people in decisions:
                if (
                    decision.values is not None
                    and not decision.rows
                    and not _rows(spec, old_rule)
                    and _typed(model, decision.values) == _typed(model, old)
                ):
                    continue  # the same record either way
                mine = held.filter(Exists(people.filter(**{key: OuterRef(person.attname)})))
                if decision.skip:
                    if dry_run:
                        corrected += mine.count()
                    elif spec["write"] == "save":
                        corrected += _delete_each(mine, alias)
                    else:
                        corrected += mine.delete()[1].get(label, 0)
                    continue
                changing = _differing(mine, model, decision)
                if dry_run:
                    corrected += changing.count()
                    continue
                # The ledger row first (while the record still holds the old values), then the record.
                moved = PushedRecord.objects.filter(
                    Exists(
                        changing.filter(**{person.attname: Cast(OuterRef("person"), output_field=person.target_field)})
                    ),
                    run=run,
                    target=label,
                    action=PushedRecord.Action.CREATED,
                    rule=old_rule,
                ).update(run_id=entry.run_id, rule=decision.rule, fingerprint=None)
                if moved:
                    moved_to[decision.rule] = decision
    for rule, decision in sorted(moved_to.items()):
        # This run's records of the rule that differ from what it gives: the ones just moved (those it
        # created itself hold its values already).
        now_mine = _differing(
            records.filter(_ledger_of_run(entry.run_id, entry.day, label, target, rule)), model, decision
        )
        corrected += now_mine.update(**_typed(model, decision.values), **decision.rows, **_auto_now(model))
        record_fingerprints(target, entry.of_rule(rule), PushedRecord.Action.CREATED, list(decision.rows), alias)
    return corrected


def _differing(records: models.QuerySet, model: type[models.Model], decision: Decision) -> models.QuerySet:
    """Return the `records` that differ in a column from what `decision` gives (NULL-safe)."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    differs = [
        _Differs(F(attname), Value(value, output_field=by_attname[attname]))
        for attname, value in _typed(model, decision.values or {}).items()
    ]
    differs += [_Differs(F(attname), expression) for attname, expression in decision.rows.items()]
    if not differs:
        return records.none()
    condition = models.Q(differs[0])
    for other in differs[1:]:
        condition |= models.Q(other)
    return records.filter(condition)


def _delete(records: models.QuerySet, spec: dict[str, Any], label: str, alias: str) -> int:
    if spec["write"] == "save":
        # Through the model, so that its delete() and signals run, as its save() did.
        return _delete_each(records, alias)
    return records.delete()[1].get(label, 0)


def _delete_each(records: models.QuerySet, alias: str) -> int:
    deleted = 0
    for record in list(records.select_for_update()):
        record.delete(using=alias)
        deleted += 1
    return deleted


def _ledger_of_run(run_id: int, day: datetime.date, label: str, target: Target, rule: int) -> Exists:
    return Exists(
        PushedRecord.objects.filter(
            run_id=run_id,
            day=day,
            target=label,
            action=PushedRecord.Action.CREATED,
            rule=rule,
            person=person_key(target.model._meta.get_field(target.person_field).attname),
        )
    )


def _rows(spec: dict[str, Any], rule: int) -> list[str]:
    """Return the columns `rule` of a run's target computed per row (fingerprinted), [] when none or not known."""
    rows = spec.get("rows") or []
    return (rows[rule] or []) if rule < len(rows) else []


def _unedited(records: models.QuerySet, run: PushRun, label: str, spec: dict[str, Any], rule: int) -> models.QuerySet:
    """Return the `records` that `rule` of `run` created and that still hold exactly what it wrote.

    The constant columns are compared with the values the run kept; the columns computed per row
    by their fingerprint with the one the ledger row kept after the write.
    """
    condition, aliases = _unedited_condition(records.model, run, label, spec, rule)
    return records.alias(**aliases).filter(condition)


def _unedited_condition(
    model: type[models.Model],
    run: PushRun,
    label: str,
    spec: dict[str, Any],
    rule: int,
    name: str = "attendance_push_fingerprint",
) -> tuple[models.Q, dict[str, Any]]:
    """Return the condition that a record still holds what `run` created under `rule` (see _unedited), and
    the aliases it reads: the fingerprint of the rule's per-row columns, under `name`."""
    ledger = _created_by(run, label, spec, rule)
    aliases = {}
    rows = _rows(spec, rule)
    if rows:
        aliases[name] = fingerprint(rows)
        ledger = ledger.filter(fingerprint=OuterRef(name))
    return models.Q(Exists(ledger), **_typed(model, spec["rules"][rule])), aliases


def standing_runs(days: Iterable[datetime.date]) -> list[PushRun]:
    """Return the succeeded, not undone pushes of `days` whose ledger is kept, with what they wrote (one query)."""
    return list(_standing_pushes().filter(date__in=list(days)).exclude(trigger=PushRun.Trigger.UNDO))


def standing_on_closed_days(
    closed: dict[str, Iterable[datetime.date]], runs: list[PushRun] | None = None
) -> dict[datetime.date, dict[str, int]]:
    """Return, per day and target label, how many records pushes created on days now `closed` for the target
    (label: days) still stand: the records a push of the day withdraws as false.

    As `withdraw_earlier` sees them: records of succeeded, not undone runs, still holding what the run
    wrote (a record a person changed since is theirs), except those of a run that pushed the day while
    it was closed on purpose (include_closed). `runs` are `standing_runs` of the days when the caller
    has them. One query for the runs, then one per target that has any: never per person or per day.
    """
    closed = {label: set(days) for label, days in closed.items() if days}
    if not closed:
        return {}
    if runs is None:
        runs = standing_runs(set().union(*closed.values()))
    standing: dict[datetime.date, dict[str, int]] = {}
    for label, days in closed.items():
        candidates = [
            (run, run.pushed[label])
            for run in runs
            if run.date in days and run.pushed.get(label) and not forced_closed(run, label)
        ]
        if not candidates:
            continue
        try:
            model = apps.get_model(label)
        except LookupError:
            continue  # a target removed from the settings since the run
        date_field = candidates[0][1]["date_field"]
        held: models.Q | None = None
        aliases: dict[str, Any] = {}
        for run, spec in candidates:
            for rule, values in enumerate(spec["rules"]):
                if values is None:
                    continue
                condition, needed = _unedited_condition(
                    model, run, label, spec, rule, f"attendance_push_fingerprint_{run.pk}_{rule}"
                )
                aliases.update(needed)
                mine = condition & models.Q(**{spec["date_field"]: run.date})
                held = mine if held is None else held | mine
        if held is None:
            continue  # only skip rules: they created nothing
        counted = (
            model._default_manager.using(router.db_for_read(model))
            .filter(**{f"{date_field}__in": sorted({run.date for run, _spec in candidates})})
            .alias(**aliases)
            .filter(held)
            .order_by()
            .values(date_field)
            .annotate(attendance_push_standing=Count("pk"))
            .values_list(date_field, "attendance_push_standing")
        )
        for day, count in counted:
            standing.setdefault(day, {})[label] = count
    return standing


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
        # Another undo may have finished while this one waited for the lock. The run's row stays
        # locked until the undo commits: a prune of its ledger waits for it, rather than deleting
        # the ledger between this check and the statements that read it.
        locked = PushRun.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None:
            # Deleted by a prune of old runs (KEEP_RUNS_DAYS) while this undo waited for the lock.
            raise PushError(_("Run %(run)d no longer exists: it was pruned from the history.") % {"run": run.pk})
        reason = refusal(locked)
        if reason:
            raise PushError(reason)
        result = UndoResult(
            run.pk, run.date, tuple(_undo_target(run, label, spec, dry_run=False) for label, spec in run.pushed.items())
        )
        if undo_run is not None:
            undo_run.mark_undone(result)
    return result


def _created_by(run: PushRun, label: str, spec: dict[str, Any], rule: int) -> models.QuerySet:
    """Return the ledger rows of the records `run` created for `label` under `rule`, for the outer query's person."""
    return PushedRecord.objects.filter(
        day=run.date,
        target=label,
        run=run,
        action=PushedRecord.Action.CREATED,
        rule=rule,
        person=person_key(spec["person_field"]),
    )


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
        unchanged = _unedited(records, run, label, spec, index)
        if dry_run:
            deleted += unchanged.count()
        else:
            deleted += _delete(unchanged, spec, label, alias)
    kept = total - deleted if dry_run else created.count()
    check_out = spec["check_out_field"]
    if not check_out:
        return TargetUndo(label, deleted, cleared, kept)
    filled = records.filter(_ledger_of(run, label, PushedRecord.Action.FILLED, spec))
    if spec.get("filled_rows"):
        # A check-out computed per person: still the one the push wrote when its fingerprint matches.
        still = records.alias(attendance_push_fingerprint=fingerprint(spec["filled_rows"])).filter(
            Exists(
                PushedRecord.objects.filter(
                    day=run.date,
                    target=label,
                    run=run,
                    action=PushedRecord.Action.FILLED,
                    person=person_key(spec["person_field"]),
                    fingerprint=OuterRef("attendance_push_fingerprint"),
                )
            ),
            **{f"{check_out}__isnull": False},
        )
    elif spec["filled"]:
        still = filled.filter(**{check_out: _typed(model, spec["filled"])[check_out]})
    else:
        # A run from before check-outs computed per person were fingerprinted: nothing to compare with.
        return TargetUndo(label, deleted, cleared, kept + filled.count())
    if dry_run:
        cleared = still.count()
        kept += filled.filter(**{f"{check_out}__isnull": False}).count() - cleared
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
                ledger_rows += rows._raw_delete(alias)
                # An undo names the run it undid; once that run is gone the undo says so (SET NULL).
                PushRun.objects.using(alias).filter(undoes__in=old.values("pk")).update(undoes=None)
                runs = old._raw_delete(alias)
    return PruneResult(ledger_rows, ledgers, runs, dry_run=dry_run)
