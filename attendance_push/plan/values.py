"""What a pushed record holds: its status, its times and every other column, as expressions.

The one place where a rule's values and times inherit from the target's and the settings'
(`rule_times`), shared by the confirmation's preview (`planned_records`) and the write
(`insert_values`, `fill_values`). Nothing here runs a query but `status_value`'s lookup row.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Cast, Coalesce
from django.utils import translation

from .. import text
from ..conf import INHERIT, Rule, Target, conf, parse_time
from ..exceptions import PushError
from ..sql import is_auto_field
from .people import call_day_function, open_records


def day_values(values: dict[str, Any] | str, day: datetime.date, where: str) -> dict[str, Any]:
    """Return a values setting for `day`: the dict itself, or what the function at its dotted path returns."""
    if not isinstance(values, str):
        return dict(values)
    result = call_day_function(values, day, where)
    if not isinstance(result, dict):
        raise PushError(text.not_a_values_dict(where, values, result))
    return result


def status_value(target: Target, status: Any = None) -> Any:
    """Return the status value of a created record, by the kind of the status field; raise ValueError saying why not.

    A CharField or an integer field with choices takes `status` (default: the target's status, then
    ATTENDANCE_PUSH['STATUS'], a choice's value or label); a BooleanField takes True unless told; a
    ForeignKey takes the row that the `status` lookup names, e.g. {"name": "Present"}.
    """
    status = target.status if status is None else status
    field = target.model._meta.get_field(target.status_field)
    where = f"{target.label}.{field.name}"
    if isinstance(field, models.ForeignKey):
        lookup_model = field.related_model
        if not isinstance(status, dict) or not status:
            raise ValueError(
                f"{where} is a ForeignKey to {lookup_model._meta.label}: name the status row with a lookup, "
                "e.g. 'status': {'name': 'Present'}."
            )
        rows = list(lookup_model._default_manager.filter(**status).values_list("pk", flat=True)[:2])
        if len(rows) != 1:
            found = "no" if not rows else "more than one"
            raise ValueError(f"{found} {lookup_model._meta.label} matches {status!r}: create it or correct 'status'.")
        return rows[0]
    if isinstance(field, models.BooleanField):
        value = True if status is None else status
        if not isinstance(value, bool):
            raise ValueError(f"{where} is a BooleanField: 'status' must be True or False, not {value!r}.")
        return value
    value = conf.STATUS if status is None else status
    if isinstance(value, dict | list | set | tuple):
        raise ValueError(f"{where} is not a ForeignKey: 'status' must be a plain value, not {value!r}.")
    choices = list(field.flatchoices)
    if choices:
        by_value = {choice: choice for choice, _label in choices}
        # The labels as the host's source writes them, whatever language this thread reads: a push
        # from a Nepali admin page takes "Present" as the worker does.
        with translation.override(None):
            by_label = {str(label).casefold(): choice for choice, label in choices}
        if value in by_value:
            return value
        if str(value).casefold() in by_label:
            return by_label[str(value).casefold()]
        raise ValueError(
            f"{value!r} is not a choice of {where}; choices: "
            + ", ".join(f"{choice!r} ({label})" for choice, label in choices)
            + "."
        )
    try:
        return field.to_python(value)
    except ValidationError as exc:
        raise ValueError(f"{value!r} is not a valid value of {where}: {' '.join(exc.messages)}") from None


def rule_status(target: Target, rule: Rule) -> tuple[Any, str]:
    """Return the status value of the rule's records and its label for the counts."""
    if not target.status_field:
        return None, ""
    status = None if rule.status is INHERIT else rule.status
    try:
        value = status_value(target, status)
    except ValueError as exc:
        raise PushError(f"{target.label}: {exc}") from None
    field = target.model._meta.get_field(target.status_field)
    chosen = target.status if status is None else status
    # The label in the words of the source, whatever language this thread reads: the run keeps it,
    # and text.describe_rules words it in the reader's language.
    with translation.override(None):
        if field.flatchoices:
            label = dict(field.flatchoices).get(value, value)
        elif isinstance(field, models.BooleanField):
            # A boolean status says whether the person was there.
            label = text.present_or_absent(value)
        elif isinstance(chosen, dict):
            label = ", ".join(str(part) for part in chosen.values())
        else:
            label = value
        return value, str(label)


@dataclass(frozen=True)
class PersonTime:
    """A time read from the person (`{"field": "shift__starts_at"}`), or `fallback` when the person has none."""

    path: str
    fallback: datetime.time | None


def time_choice(spec: Any, default: datetime.time | None) -> datetime.time | PersonTime | None:
    """Return a target's or rule's `check_in`/`check_out` as a time, a PersonTime, or None (no time)."""
    if isinstance(spec, dict):
        return PersonTime(spec["field"], default)
    if spec is None:
        return None
    return parse_time(spec)


def target_times(target: Target) -> tuple[Any, Any]:
    """Return the target's check-in and check-out: its own, else the settings' CHECK_IN and CHECK_OUT."""
    check_in = conf.CHECK_IN if target.check_in is None else time_choice(target.check_in, conf.CHECK_IN)
    check_out = conf.CHECK_OUT if target.check_out is None else time_choice(target.check_out, conf.CHECK_OUT)
    return check_in, check_out


def rule_times(target: Target, rule: Rule) -> tuple[Any, Any]:
    """Return the check-in and check-out of the rule's records: its own, else the target's (see target_times)."""
    check_in, check_out = target_times(target)
    return (
        check_in if rule.check_in is INHERIT else time_choice(rule.check_in, None),
        check_out if rule.check_out is INHERIT else time_choice(rule.check_out, None),
    )


def planned_records(target: Target) -> list[tuple[Rule, str, Any, Any]]:
    """Return each rule of `target` (the default record last) with its status label, check-in and check-out."""
    return [
        (rule, "" if rule.skip else rule_status(target, rule)[1], *rule_times(target, rule))
        for rule in target.rule_list
    ]


# --- Expressions: one value per row ----------------------------------------------------------------


def rebase(expression: Any, replace: Callable[[str], Any]) -> Any:
    """Return `expression` with every F() replaced by `replace(name)`."""
    if isinstance(expression, F) and not isinstance(expression, OuterRef):
        return replace(expression.name)
    if not hasattr(expression, "get_source_expressions"):
        return expression
    copy = expression.copy()
    copy.set_source_expressions([rebase(source, replace) for source in copy.get_source_expressions()])
    return copy


def person_ref_in_update(target: Target) -> Callable[[str], Any]:
    """Return how an UPDATE of attendance rows reads a path on the row's person (a correlated subquery)."""
    person_fk = target.model._meta.get_field(target.person_field)
    people = target.person_model._default_manager.order_by()

    def ref(path: str) -> Any:
        return Subquery(people.filter(**{person_fk.target_field.name: OuterRef(target.person_field)}).values(path)[:1])

    return ref


def to_expression(
    value: Any,
    field: models.Field,
    target: Target,
    own: dict[str, Any],
    person_ref: Callable[[str], Any],
    *,
    keep_unknown: bool,
) -> Any:
    """Return `value` as an expression for the column of `field`.

    In an expression, F("<person_field>__path") reads the person, F("<field>") reads the value the
    record gets for that field (`own`), or, when `keep_unknown`, the row's current column.
    """
    if isinstance(value, PersonTime):
        fallback = Value(value.fallback, output_field=models.TimeField())
        return Coalesce(person_ref(value.path), fallback, output_field=models.TimeField())
    if hasattr(value, "resolve_expression"):
        prefix = target.person_field + LOOKUP_SEP

        def replace(name: str) -> Any:
            if name.startswith(prefix):
                return person_ref(name[len(prefix) :])
            if name in own:
                return own[name]
            if keep_unknown:
                return F(name)
            raise PushError(text.unknown_f(target.label, name, prefix))

        return rebase(value, replace)
    if value is None and field is not None:
        # A bare NULL has no type: PostgreSQL could not compute with it (NULL - NULL).
        return Cast(Value(None), output_field=field)
    return Value(value, output_field=field)


def insert_values(
    target: Target, day: datetime.date, actor: models.Model | None, rule: Rule, status: Any
) -> dict[models.Field, Any]:
    """Return the expression of every column of a pushed record but the person, relative to the person row."""
    model = target.model
    meta = model._meta
    check_in, check_out = rule_times(target, rule)
    chosen: dict[str, Any] = {target.date_field: day}
    if target.status_field:
        chosen[target.status_field] = status
    if target.check_in_field:
        chosen[target.check_in_field] = check_in
    if target.check_out_field:
        chosen[target.check_out_field] = check_out
    if target.created_by_field:
        chosen[target.created_by_field] = actor.pk
    extra = day_values(target.extra_values, day, f"{target.label} extra_values")

    def person_ref(path: str) -> Any:
        return F(path)

    own: dict[str, Any] = {}
    values: dict[models.Field, Any] = {}
    for name, value in [*chosen.items(), *extra.items()]:
        field = meta.get_field(name)
        values[field] = own[name] = to_expression(value, field, target, own, person_ref, keep_unknown=False)
    if target.write == "save":
        return values  # each Model() computes its own defaults
    # The rest of the columns get what Model.save() would give them: defaults and auto_now(_add).
    blank = model()
    for field in meta.concrete_fields:
        if field in values or field.name == target.person_field:
            continue
        if is_auto_field(field) or field.generated or field.has_db_default():
            continue
        values[field] = Value(field.pre_save(blank, add=True), output_field=field)
    return values


# --- Check-outs: the one fill/skip rule ------------------------------------------------------------


@dataclass(frozen=True)
class FillPlan:
    """The day's open records split by the fill/skip rule, and the check-out they get."""

    to_fill: models.QuerySet
    to_skip: models.QuerySet
    check_out: Any


def fill_plan(target: Target, day: datetime.date, alias: str) -> FillPlan | None:
    """Split the day's open records: filled with the check-out, or skipped (the push and its preview share this).

    A check-in after the check-out would give a negative day: that record is skipped, left for a human.
    """
    if not (target.check_in_field and target.check_out_field):
        return None
    records = open_records(target, day, alias)
    check_out = target_times(target)[1]
    if isinstance(check_out, PersonTime):
        check_out = to_expression(check_out, None, target, {}, person_ref_in_update(target), keep_unknown=True)
    return FillPlan(
        to_fill=records.filter(**{f"{target.check_in_field}__lte": check_out}),
        to_skip=records.filter(**{f"{target.check_in_field}__gt": check_out}),
        check_out=check_out,
    )


def fill_values(target: Target, day: datetime.date, plan: FillPlan) -> dict[str, Any]:
    """Return the columns a filled record gets: the check-out, fill_values, and auto_now fields."""
    model = target.model
    check_out = plan.check_out
    if not hasattr(check_out, "resolve_expression"):
        check_out = Value(check_out, output_field=model._meta.get_field(target.check_out_field))
    own = {target.check_out_field: check_out}
    person_ref = person_ref_in_update(target)
    values = {target.check_out_field: plan.check_out}
    for name, value in day_values(target.fill_values, day, f"{target.label} fill_values").items():
        field = model._meta.get_field(name)
        values[name] = to_expression(value, field, target, own, person_ref, keep_unknown=True)
    blank = model()
    for field in model._meta.concrete_fields:
        # QuerySet.update() leaves auto_now fields alone; Model.save() would set them.
        if getattr(field, "auto_now", False) and field.name not in values:
            values[field.name] = field.pre_save(blank, add=False)
    return values
