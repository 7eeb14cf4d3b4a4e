"""The statements of a push: the only module with SQL text and Django's private query APIs.

Set-based: one INSERT … SELECT per rule and one UPDATE per target, each with its ledger rows. On
PostgreSQL the write and its ledger rows are one statement (a data-modifying CTE with RETURNING), so
the ledger names exactly the rows written even while devices write the same day; on SQLite, where a
push holds the only write lock, the ledger rows come first from the same SELECT, then the write, and
the two counts must agree. The `save` write mode goes through the host's Model.save() instead.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, models, router, transaction
from django.db.models import BooleanField, F, Func, Value
from django.db.models.constants import OnConflict
from django.db.models.fields import AutoFieldMixin
from django.db.models.sql.subqueries import UpdateQuery

from . import text
from .conf import Target
from .exceptions import PushError
from .models import PushedRecord
from .results import Entry

logger = logging.getLogger("attendance_push")


def joins_many(queryset: models.QuerySet) -> bool:
    """Return whether `queryset` joins another table (and so may repeat a row)."""
    return len(queryset.query.alias_map) > 1


def is_auto_field(field: models.Field) -> bool:
    """Return whether the database gives `field` its value (an auto-incremented key)."""
    return isinstance(field, AutoFieldMixin)


def raw_delete(queryset: models.QuerySet, alias: str) -> int:
    """Delete the rows of `queryset` in one DELETE, without signals or cascades (ledger and run rows)."""
    return queryset._raw_delete(alias)


class Differs(Func):
    """Whether two values differ, NULL being a value like any other (never NULL itself)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        lhs, rhs = self.get_source_expressions()
        lhs_sql, lhs_params = compiler.compile(lhs)
        rhs_sql, rhs_params = compiler.compile(rhs)
        operator = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
        return f"({lhs_sql} {operator} {rhs_sql})", (*lhs_params, *rhs_params)


# --- Inserting the missing records ------------------------------------------------------------------


def annotated_select(
    target: Target, people: models.QuerySet, values: dict[models.Field, Any]
) -> tuple[models.QuerySet, list[str]]:
    """Return `people` selecting the person's key and each value, and the names of those columns."""
    person_fk = target.model._meta.get_field(target.person_field)
    expressions = [F(person_fk.target_field.name), *values.values()]
    names = [f"attendance_push_{index}" for index in range(len(expressions))]
    return people.annotate(**dict(zip(names, expressions, strict=True))).values_list(*names), names


def insert_missing(
    target: Target, people: models.QuerySet, values: dict[models.Field, Any], alias: str, entry: Entry | None
) -> int:
    """Insert a record for every person of `people`, in one INSERT … SELECT."""
    try:
        # A savepoint: when the INSERT fails, the push's transaction can go on.
        with transaction.atomic(using=alias):
            return _insert_select(target, people, values, alias, entry, ignore_conflicts=False)
    except IntegrityError:
        # Someone else (a device, a person in the admin) wrote a record of this day since the
        # SELECT began; keep theirs and insert the rest. Only then pay for the conflict check.
        created = _insert_select(target, people, values, alias, entry, ignore_conflicts=True)
        if people.exists():
            # A conflict that is not "this person already has a record": refuse, do not half-push.
            raise PushError(text.other_unique_conflict(target.label)) from None
        return created


def _insert_select(
    target: Target,
    people: models.QuerySet,
    values: dict[models.Field, Any],
    alias: str,
    entry: Entry | None,
    *,
    ignore_conflicts: bool,
) -> int:
    sql, params = _insert_select_sql(target, people, values, alias, ignore_conflicts=ignore_conflicts)
    person_fk = target.model._meta.get_field(target.person_field)
    persons = people.values_list(person_fk.target_field.name).query.get_compiler(alias).as_sql()
    return record_insert(
        connections[alias],
        entry,
        (sql, params),
        persons,
        person_column=person_fk.target_field.column,
        returning_column=person_fk.column,
    )


def _insert_select_sql(
    target: Target, people: models.QuerySet, values: dict[models.Field, Any], alias: str, *, ignore_conflicts: bool
) -> tuple[str, list]:
    """Return the INSERT … SELECT of a record for every person of `people`, and its parameters."""
    model = target.model
    connection = connections[alias]
    person_fk = model._meta.get_field(target.person_field)
    select, names = annotated_select(target, people, values)
    select_sql, select_params = select.query.get_compiler(alias).as_sql()
    fields = [person_fk, *values]
    quote = connection.ops.quote_name
    columns = [f"missing.{quote(name)}" for name in names]
    if connection.vendor == "postgresql":
        # A constant of the inner SELECT has no type of its own there (a NULL time would arrive as
        # text): give each column its field's type. Text columns take text as it is (no truncation).
        for index, field in enumerate(fields[1:], start=1):
            if not isinstance(field, models.CharField | models.TextField):
                columns[index] = f"CAST({columns[index]} AS {field.cast_db_type(connection)})"
    insert, suffix = "INSERT INTO", ""
    if ignore_conflicts:
        if connection.vendor == "sqlite":
            # Unlike INSERT OR IGNORE, ON CONFLICT skips unique conflicts only (not NOT NULL
            # violations); SQLite needs a WHERE before it in an INSERT … SELECT.
            suffix = "WHERE true ON CONFLICT DO NOTHING"
        else:
            insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
            suffix = connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    # Identifiers come quoted from the backend and values travel as parameters.
    sql = "{insert} {table} ({columns}) SELECT {values} FROM ({select}) missing {suffix}".format(  # noqa: S608
        insert=insert,
        table=quote(model._meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        values=", ".join(columns),
        select=select_sql,
        suffix=suffix,
    )
    return sql, list(select_params)


def insert_by_save(
    target: Target, people: models.QuerySet, values: dict[models.Field, Any], alias: str, entry: Entry | None
) -> int:
    """Save a new record through the model for every person of `people`; return how many the database then holds."""
    model = target.model
    person_fk = model._meta.get_field(target.person_field)
    select, _columns = annotated_select(target, people, values)
    attnames = [person_fk.attname, *(field.attname for field in values)]
    rows = list(select)
    for row in rows:
        model(**dict(zip(attnames, row, strict=True))).save(using=alias, force_insert=True)
    if not rows:
        return 0
    # What the database holds counts: a save() that declined created nothing, and the person is
    # still missing (the next push offers the record again and counts it only if it is kept).
    still_missing = set(people.values_list(person_fk.target_field.name, flat=True))
    done = [row[0] for row in rows if row[0] not in still_missing]
    record_people(entry, PushedRecord.Action.CREATED, done, person_fk.target_field, alias)
    return len(done)


# --- Checking the statements of a push without writing (its preview) -----------------------------------


def push_statements(
    target: Target,
    to_fill: models.QuerySet | None,
    fill: dict[str, Any],
    inserts: list[tuple[models.QuerySet, dict[models.Field, Any]]],
    alias: str,
) -> list[tuple[str, list]]:
    """Return the compiled statements a push of `target` runs: the fill's UPDATE (from `to_fill` and its values
    `fill`) and an INSERT … SELECT per rule of `inserts` (its people, its values); in the `save` write mode,
    the SELECTs that read what save() then writes. As the push builds them, each with its parameters."""
    statements = []
    by_save = target.write == "save"
    if to_fill is not None:
        if by_save:
            statements.append(_fill_select(to_fill, fill).query.get_compiler(alias).as_sql())
        else:
            query = to_fill.query.chain(UpdateQuery)
            query.add_update_values(fill)
            statements.append(query.get_compiler(alias).as_sql())
    for people, values in inserts:
        if by_save:
            statements.append(annotated_select(target, people, values)[0].query.get_compiler(alias).as_sql())
        else:
            statements.append(_insert_select_sql(target, people, values, alias, ignore_conflicts=False))
    return [(sql, list(params)) for sql, params in statements if sql]


def explain(target: Target, statements: list[tuple[str, list]], alias: str) -> None:
    """Have the database compile and plan each statement (EXPLAIN), running none of them; raise PushError,
    in one line, for a statement it refuses (SQL it cannot run, parameters that do not match). Writes nothing."""
    connection = connections[alias]
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    try:
        # A savepoint: a statement the database refuses leaves the caller's transaction usable (PostgreSQL).
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(prefix + sql, params)
                cursor.fetchall()
    except (DatabaseError, TypeError, ValueError, IndexError) as exc:
        raise PushError(text.statement_refused(target.label, exc)) from exc


# --- Filling the open check-outs ---------------------------------------------------------------------


def fill_by_update(
    target: Target, to_fill: models.QuerySet, values: dict[str, Any], alias: str, entry: Entry | None
) -> int:
    """Set `values` on the records of `to_fill` in one UPDATE and write a ledger row per record; return how many."""
    if entry is None:
        return to_fill.update(**values)
    connection = connections[alias]
    person = to_fill.model._meta.get_field(target.person_field)
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


def fill_by_save(
    target: Target, to_fill: models.QuerySet, values: dict[str, Any], alias: str, entry: Entry | None
) -> int:
    """Save every record to fill through the model; return how many the database then shows filled."""
    names = {f"attendance_push_{index}": name for index, name in enumerate(values)}
    # Read before writing: SQLite would otherwise see the rows it is changing.
    # Locked: a person editing the record meanwhile is not overwritten by the full-row save.
    records = list(_fill_select(to_fill.select_for_update(), values))
    meta = to_fill.model._meta
    # By attname: a value of a ForeignKey is the related row's key.
    attnames = {key: meta.get_field(name).attname for key, name in names.items()}
    for record in records:
        for key, attname in attnames.items():
            setattr(record, attname, getattr(record, key))
        record.save(using=alias)
    if not records:
        return 0
    # What the database holds counts: a save() that declined left its record open.
    still_open = set(to_fill.values_list("pk", flat=True))
    person = target.model._meta.get_field(target.person_field)
    done = [getattr(record, person.attname) for record in records if record.pk not in still_open]
    record_people(entry, PushedRecord.Action.FILLED, done, person.target_field, alias)
    return len(done)


def _fill_select(to_fill: models.QuerySet, values: dict[str, Any]) -> models.QuerySet:
    """Return the records of `to_fill`, each with the values `values` gives it (attendance_push_<n>, in order)."""
    return to_fill.annotate(
        **{
            f"attendance_push_{index}": value if hasattr(value, "resolve_expression") else Value(value)
            for index, value in enumerate(values.values())
        }
    )


# --- The ledger rows of a write ------------------------------------------------------------------------


def _ledger_insert_sql(connection, entry: Entry, action: str, source: str, person_column: str) -> tuple[str, list]:
    """Return an INSERT of one ledger row per row of `source` (a FROM item with `person_column`)."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(PushedRecord._meta.get_field(name).column)
        for name in ("run", "target", "person", "day", "action", "rule")
    )
    day = PushedRecord._meta.get_field("day").get_db_prep_save(entry.day, connection)
    sql = (
        f"INSERT INTO {quote(PushedRecord._meta.db_table)} ({columns}) "  # noqa: S608 (identifiers quoted by the backend)
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


def person_text(key: models.Field, value: Any, connection) -> str:
    """Return the ledger's text of a person key held in Python, the one `ledger.person_key` gives in SQL.

    The database's own text of the stored value, so that both write modes enter a person alike:
    a UUID is 32 hex digits on SQLite (which stores it so), hyphenated on PostgreSQL.
    """
    return str(key.get_db_prep_value(key.to_python(value), connection, prepared=False))


def _agree(entry: Entry, claimed: int, written: int) -> None:
    if claimed != written:
        # Another writer changed the day between the two statements: roll back rather than let the
        # ledger name records the push did not write.
        raise PushError(text.day_changed(entry.label, claimed, written))


# A write of this many rows or more leaves the planner's statistics stale enough to matter: on
# PostgreSQL the undo's dry run right after a push of 588,000 records chose a nested loop over the
# whole ledger and ran for minutes (issue 20). Autovacuum analyzes the tables too, but later.
ANALYZE_AFTER_ROWS = 10_000


def refresh_statistics(model_list: list[type[models.Model]], rows: int) -> None:
    """Refresh the planner's statistics of the tables of `model_list` after a write of `rows` rows.

    PostgreSQL only (SQLite's planner chooses the ledger's index without them), outside a transaction
    so that it sees what was committed. Never raises: stale statistics cost time, not records.
    """
    if rows < ANALYZE_AFTER_ROWS:
        return
    by_alias: dict[str, set[str]] = {}
    for model in model_list:
        alias = router.db_for_write(model)
        by_alias.setdefault(alias, set()).add(model._meta.db_table)
    for alias, tables in by_alias.items():
        connection = connections[alias]
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            continue
        try:
            with connection.cursor() as cursor:
                for table in sorted(tables):
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        except DatabaseError:
            logger.warning("Could not refresh the statistics of %s.", ", ".join(sorted(tables)), exc_info=True)
