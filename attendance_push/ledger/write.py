"""What a push keeps of what it wrote: the values of each rule, and the fingerprints of per-row values.

The ledger rows themselves are written by `sql.py` with the records, in the same statement.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Case, CharField, F, OuterRef, Subquery, TextField, Value, When
from django.db.models.functions import Cast, Concat, Length

from ..conf import Target
from ..models import PushedRecord
from ..results import Entry, PushedSpec


def person_key(person_attname: str) -> Cast:
    """Return the expression of a record's person key as the ledger stores it (text)."""
    return Cast(OuterRef(person_attname), output_field=CharField())


def constant(expression: Any) -> tuple[bool, Any]:
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
        is_constant, value = constant(expression)
        if is_constant:
            compared[field.attname] = value
    return compared


def rule_rows(target: Target, values: dict[models.Field, Any]) -> dict[str, Any]:
    """Return the columns one rule computes per row (attname: expression): what the ledger fingerprints."""
    return {field.attname: expression for field, expression in _compared(target, values) if not constant(expression)[0]}


def fingerprint(columns: list[str] | tuple[str, ...]) -> Any:
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
) -> PushedSpec:
    """Return what a push of `target` wrote, for its run: the field names an undo needs and the values.

    `rules` holds, per rule index (the ledger's `rule`), the constant columns of its records (None for
    a skip rule), and `rows` the columns it computed per row (fingerprinted in the ledger);
    `check_out` is the check-out filled: a constant is kept here, one computed per row is
    fingerprinted (`filled_rows`).
    """
    check_out_field = target.model._meta.get_field(target.check_out_field).attname if target.check_out_field else None
    is_constant, value = constant(check_out)
    return PushedSpec(
        person_field=target.model._meta.get_field(target.person_field).attname,
        date_field=target.date_field,
        check_out_field=check_out_field,
        write=target.write,
        rules=tuple(rules),
        rows=tuple(rows if rows is not None else [None if r is None else [] for r in rules]),
        filled={check_out_field: value} if check_out_field and check_out is not None and is_constant else {},
        filled_rows=tuple(filled_rows(target, check_out)),
    )


def filled_rows(target: Target, check_out: Any) -> list[str]:
    """Return the columns of a filled record the ledger fingerprints: the check-out when computed per row."""
    if not target.check_out_field or check_out is None or constant(check_out)[0]:
        return []
    return [target.model._meta.get_field(target.check_out_field).attname]
