"""Checks of what `ATTENDANCE_PUSH['TARGETS']` names in the host's models: the models and their fields, the
status rows, the people functions and rules, and the values functions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import DatabaseError, connections, models, router
from django.db.models.constants import LOOKUP_SEP
from django.db.models.signals import post_save
from django.dispatch.dispatcher import _make_id
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import WRITE_MODES, Target, parse_time, rule_problem
from ..plan.values import status_value

SETTING = "ATTENDANCE_PUSH"


def valid_targets() -> list[Target]:
    """Return the configured targets whose models exist (the others are reported by check_settings)."""
    raw = getattr(settings, SETTING, {})
    targets = raw.get("TARGETS", []) if isinstance(raw, dict) else []
    if not isinstance(targets, list | tuple):
        return []
    valid = []
    for item in targets:
        try:
            target = Target.from_setting(item)
            target.model  # noqa: B018 (resolves the model)
        except (TypeError, LookupError, ValueError, AttributeError):
            continue
        valid.append(target)
    return valid


def check_target(where: str, target: Target) -> Iterator[checks.CheckMessage]:
    """Check what one target names in the host's models: its model, fields, statuses, functions and values."""
    try:
        model = apps.get_model(target.attendance)
    except (LookupError, ValueError, AttributeError):
        yield checks.Error(
            f"{where}['attendance'] {target.attendance!r} is not an installed model.",
            hint="Write it as 'app_label.ModelName' and make sure the app is in INSTALLED_APPS.",
            id="attendance_push.E005",
        )
        return
    fields = {}
    complete = True
    for key, expected in FIELD_KINDS.items():
        name = getattr(target, key)
        if name is None and key in OPTIONAL_FIELDS:
            continue
        try:
            field = model._meta.get_field(name)
        except (FieldDoesNotExist, TypeError):
            if isinstance(name, str) and LOOKUP_SEP in name:
                yield checks.Error(
                    f"{where}['{key}'] {name!r} reaches through a related model.",
                    hint=f"The push needs this field on {model._meta.label} itself (one INSERT per record); a day or "
                    "time kept only on a parent row is not supported.",
                    id="attendance_push.E006",
                )
                complete = False
                continue
            yield checks.Error(
                f"{where}['{key}'] {name!r} is not a field of {model._meta.label}.",
                hint=f"Fields of {model._meta.label}: {', '.join(f.name for f in model._meta.concrete_fields)}."
                + (f" Set '{key}': None if the model has no such field." if key in OPTIONAL_FIELDS else ""),
                id="attendance_push.E006",
            )
            complete = False
            continue
        problem = expected(field)
        if problem:
            yield checks.Error(
                f"{where}['{key}'] {model._meta.label}.{name} {problem}.",
                hint=KIND_HINTS[key],
                id="attendance_push.E007",
            )
            complete = False
            continue
        fields[key] = field
    if "person_field" in fields:
        yield from _check_people_filter(where, fields["person_field"].related_model, target.people_filter)
    if "status_field" in fields:
        yield from _check_status(where, target, fields["status_field"])
    try:
        extra = _values(target.extra_values)
    except _Unusable as unusable:
        extra, extra_errors = {}, [unusable.error(where, "extra_values", "attendance_push.E017")]
    else:
        taken = {field.name for field in fields.values()} | {target.person_field}
        extra_errors = list(_check_value_fields(where, "extra_values", "attendance_push.E017", model, extra, taken))
    yield from extra_errors
    yield from _check_fill_values(where, target, model, fields)
    if "person_field" in fields:
        person_model = fields["person_field"].related_model
        yield from _check_day_people(where, target, person_model, "status_field" in fields)
        for key in ("check_in", "check_out"):
            yield from _check_time_choice(where, key, getattr(target, key), person_model)
    yield from _check_host_logic(where, target, model)
    if target.write not in WRITE_MODES:
        yield checks.Error(
            f"{where}['write'] {target.write!r} is not a write mode.",
            hint="'sql' (the default: set-based) or 'save' (each new record saved through the model, for hosts "
            "whose save() or post_save signals must run).",
            id="attendance_push.E018",
        )
    if complete and not extra_errors:
        # After a misnamed field, "required and unfilled" would only repeat the same mistake.
        mapped = [*fields.values(), *map(model._meta.get_field, extra)]
        yield from _check_unfilled(where, model, mapped)
        if target.write != "save":
            yield from _check_per_row_defaults(where, model, mapped)


def _is_fk(field: models.Field) -> str | None:
    return None if isinstance(field, models.ForeignKey) else "is not a ForeignKey to the people model"


def _is_date(field: models.Field) -> str | None:
    ok = isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField)
    return None if ok else "is not a DateField"


def _is_time(field: models.Field) -> str | None:
    return None if isinstance(field, models.TimeField) else "is not a TimeField"


def _is_user_fk(field: models.Field) -> str | None:
    ok = isinstance(field, models.ForeignKey) and field.related_model._meta.label == settings.AUTH_USER_MODEL
    return None if ok else f"is not a ForeignKey to {settings.AUTH_USER_MODEL}"


def _is_status(field: models.Field) -> str | None:
    kinds = models.CharField | models.TextField | models.IntegerField | models.BooleanField | models.ForeignKey
    return None if isinstance(field, kinds) else "is not a CharField, an integer, a BooleanField or a ForeignKey"


FIELD_KINDS = {
    "person_field": _is_fk,
    "date_field": _is_date,
    "status_field": _is_status,
    "check_in_field": _is_time,
    "check_out_field": _is_time,
    "created_by_field": _is_user_fk,
}
OPTIONAL_FIELDS = {"status_field", "check_in_field", "check_out_field", "created_by_field"}
KIND_HINTS = {
    "person_field": "Name the ForeignKey from the attendance model to the person (student, employee, …).",
    "date_field": "Name the DateField that holds the attendance day.",
    "status_field": "Name the field holding the status (text, integer choice, boolean or a lookup), or None.",
    "check_in_field": "Name the TimeField holding the check-in time, or set it to None "
    "(a check-in stored as a DateTimeField is not supported).",
    "check_out_field": "Name the TimeField holding the check-out time, or set it to None "
    "(a check-out stored as a DateTimeField is not supported).",
    "created_by_field": "Name the ForeignKey to the user who created the record, or set it to None.",
}


def _check_people_filter(
    where: str, person_model: type[models.Model], people_filter: Any
) -> Iterator[checks.CheckMessage]:
    hint = f"Use lookups on {person_model._meta.label}, e.g. {{'is_active': True}} or Q(is_active=True)."
    if not isinstance(people_filter, dict | models.Q):
        yield checks.Error(
            f"{where}['people_filter'] must be a dict of lookups or a Q object.", hint=hint, id="attendance_push.E008"
        )
        return
    try:
        _resolve_lookups(person_model, people_filter)
    except (FieldError, ValidationError, ValueError, TypeError) as exc:
        yield checks.Error(
            f"{where}['people_filter'] {people_filter!r} is invalid: {exc}", hint=hint, id="attendance_push.E008"
        )


def _resolve_lookups(model: type[models.Model], lookups: dict[str, Any] | models.Q) -> None:
    """Build the query of `model` filtered by `lookups`: it resolves every lookup and reads no row."""
    rows = model._default_manager
    (rows.filter(lookups) if isinstance(lookups, models.Q) else rows.filter(**lookups)).query  # noqa: B018


def _check_status(where: str, target: Target, field: models.Field) -> Iterator[checks.CheckMessage]:
    problem = _status_problem(target, field, target.status)
    if problem is None:
        return
    lookup = isinstance(field, models.ForeignKey)
    source = f"{where}['status']" if target.status is not None or lookup else f"{SETTING}['STATUS']"
    yield checks.Error(
        f"{source}: {problem}",
        hint=_status_hint(where, field),
        id="attendance_push.E016" if lookup else "attendance_push.E009",
    )


def _status_problem(target: Target, field: models.Field, status: Any) -> str | None:
    """Return why `status` cannot be a status of `field`, or None if it can, reading no rows."""
    try:
        if isinstance(field, models.ForeignKey) and isinstance(status, dict) and status:
            # Only the lookup's shape here (building the query reads nothing): whether its row exists
            # is check_status_rows's question, under the database tag.
            _resolve_lookups(field.related_model, status)
        else:
            status_value(target, status)  # reads no database for these fields
    except (ValueError, TypeError, FieldError) as exc:
        return str(exc)
    return None


def check_status_rows(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """Check the rows the settings name in the database: lookup statuses, foreign keys in extra or fill values.

    A database check (`check --database default`; migrate runs it too): it reads rows a data
    migration may create, so it waits until every migration is applied, and the push checks again.
    """
    if not databases:
        return []
    errors: list[checks.CheckMessage] = []
    for index, target in enumerate(valid_targets()):
        where = f"{SETTING}['TARGETS'][{index}]"
        for place, field, read, check_id in _row_reads(where, target):
            alias = router.db_for_read(field.related_model)
            if alias not in databases or _migrations_pending(alias):
                continue
            try:
                read()
            except ValidationError as exc:
                hint = f"Give a value {field.model._meta.label}.{field.name} accepts."
                errors.append(checks.Error(f"{place}: {' '.join(exc.messages)}", hint=hint, id=check_id))
            except ValueError as exc:
                errors.append(checks.Error(f"{place}: {exc}", hint=_status_hint(where, field), id=check_id))
            except (DatabaseError, FieldError, TypeError):
                continue  # not migrated yet, or a shape check_settings reports
    return errors


def _row_reads(where: str, target: Target) -> Iterator[tuple[str, models.Field, Any, str]]:
    """Yield (where, field, a call that raises when the row named there is missing, check ID) for `target`."""
    model = target.model
    if target.status_field:
        field = model._meta.get_field(target.status_field)
        if isinstance(field, models.ForeignKey):
            if isinstance(target.status, dict) and target.status:
                yield f"{where}['status']", field, lambda: status_value(target), "attendance_push.E016"
            for index, rule in enumerate(target.rules if isinstance(target.rules, list | tuple) else []):
                status = rule.get("status") if isinstance(rule, dict) else None
                if isinstance(status, dict) and status:
                    place = f"{where}['rules'][{index}]['status']"
                    yield place, field, lambda status=status: status_value(target, status), "attendance_push.E041"
    for key, check_id in (("extra_values", "attendance_push.E017"), ("fill_values", "attendance_push.E043")):
        values = getattr(target, key, None)
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            try:
                field = model._meta.get_field(name)
            except (FieldDoesNotExist, TypeError):
                continue
            if isinstance(field, models.ForeignKey) and not hasattr(value, "resolve_expression"):
                place = f"{where}['{key}'][{name!r}]"
                yield place, field, lambda field=field, value=value: field.clean(value, None), check_id


def _migrations_pending(alias: str) -> bool:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _status_hint(where: str, field: models.Field) -> str:
    if isinstance(field, models.ForeignKey):
        label = field.related_model._meta.label
        return f"Set {where}['status'] to a lookup naming one {label}, e.g. {{'name': 'Present'}}."
    if field.flatchoices:
        return "Choices: " + ", ".join(str(value) for value, _label in field.flatchoices) + "."
    return f"Set {where}['status'] to a value the field accepts."


# The hints of a function named by its dotted path, each written once for every setting that takes one.
_PATH_HINT = "Write it as 'myapp.module.function'; the function takes the day (a datetime.date)."
_VALUES_HINT = "The function gets a datetime.date and returns a dict of field names and values."


class _Unusable(Exception):
    """What makes a value of the settings unusable, and the hint that mends it."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint

    def error(self, where: str, key: str, check_id: str) -> checks.Error:
        """Return the error saying that `where[key]` has this problem."""
        return checks.Error(f"{where}['{key}'] {self.problem}", hint=self.hint, id=check_id)


def _values(values: Any) -> dict[str, Any]:
    """Return a values setting as a dict (a dotted path is called with today's date); raise _Unusable if it is none."""
    if isinstance(values, dict):
        return values
    if not isinstance(values, str):
        raise _Unusable(
            "must be a dict of field names and values, or the dotted path of a function f(day) returning one.",
            "E.g. {'validated': True} or 'myapp.attendance.values_for_day'.",
        )
    function = _import_function(values)
    try:
        # Any day shows the shape of what the function returns; the push calls it with the day it pushes.
        result = function(timezone.now().date())
    except Exception as exc:  # noqa: BLE001 (the host's function: any failure is reported, not raised)
        raise _Unusable(f"{values}(day) raised {type(exc).__name__}: {exc}", _VALUES_HINT) from exc
    if not isinstance(result, dict):
        raise _Unusable(f"{values}(day) returned {type(result).__name__}, not a dict.", _VALUES_HINT)
    return result


def _import_function(path: Any) -> Callable[..., Any]:
    """Return the function named by the dotted path `path`; raise _Unusable if there is none."""
    if not isinstance(path, str):
        raise _Unusable(f"{path!r} is not the dotted path of a function.", _PATH_HINT)
    try:
        function = import_string(path)
    except ImportError as exc:
        raise _Unusable(f"cannot import {path!r}: {exc}", _PATH_HINT) from exc
    if not callable(function):
        raise _Unusable(f"{path!r} is not callable.", "Name a function f(day).")
    return function


def _check_value_fields(
    where: str, key: str, check_id: str, model, values: dict[str, Any], taken: set[str]
) -> Iterator[checks.CheckMessage]:
    """Check that every name of `values` is a writable field the push does not set itself, with a valid value."""
    for name, value in values.items():
        try:
            field = model._meta.get_field(name)
        except (FieldDoesNotExist, TypeError):
            yield checks.Error(
                f"{where}['{key}'] names {name!r}, not a field of {model._meta.label}.",
                hint=f"Fields of {model._meta.label}: {', '.join(f.name for f in model._meta.concrete_fields)}.",
                id=check_id,
            )
            continue
        if name in taken or not field.concrete or field.primary_key or field.generated:
            yield checks.Error(
                f"{where}['{key}'] cannot set {model._meta.label}.{name}: the push sets it, or it is not writable.",
                hint="Set it with the target's own keys (date_field, status, …), or leave it out.",
                id=check_id,
            )
            continue
        if hasattr(value, "resolve_expression"):
            continue  # evaluated per row by the database
        try:
            if isinstance(field, models.ForeignKey):
                # Whether the row exists is a database read: check_status_rows, under the database tag.
                field.to_python(value)
            else:
                field.clean(value, None)
        except ValidationError as exc:
            yield checks.Error(
                f"{where}['{key}'][{name!r}] {value!r} is not valid: {' '.join(exc.messages)}",
                hint=f"Give a value {model._meta.label}.{name} accepts.",
                id=check_id,
            )


def _check_fill_values(where: str, target: Target, model, fields: dict) -> Iterator[checks.CheckMessage]:
    try:
        values = _values(target.fill_values)
    except _Unusable as unusable:
        yield unusable.error(where, "fill_values", "attendance_push.E043")
        return
    if not values:
        return
    if "check_out_field" not in fields or "check_in_field" not in fields:
        yield checks.Error(
            f"{where}['fill_values'] is set, but the target has no check-in and check-out to fill.",
            hint="Name check_in_field and check_out_field, or leave fill_values out.",
            id="attendance_push.E043",
        )
        return
    taken = {target.person_field, target.date_field, target.check_out_field}
    yield from _check_value_fields(where, "fill_values", "attendance_push.E043", model, values, taken)


def _check_day_people(where: str, target: Target, person_model, status_ok: bool) -> Iterator[checks.CheckMessage]:
    """Check people_on_day and the rules: importable functions, known keys, valid statuses and times."""
    if target.people_on_day is not None:
        yield from _check_people_function(
            where, "people_on_day", target.people_on_day, person_model, "attendance_push.E040"
        )
    if not isinstance(target.rules, list | tuple):
        yield checks.Error(
            f"{where}['rules'] must be a list of rules.",
            hint="E.g. [{'name': 'On leave', 'people': 'myapp.people.on_leave', 'status': 'Leave'}].",
            id="attendance_push.E041",
        )
        return
    for index, rule in enumerate(target.rules):
        rule_where = f"{where}['rules'][{index}]"
        problem = rule_problem(rule)
        if problem:
            yield checks.Error(
                f"{rule_where} {problem}",
                hint="E.g. {'name': 'On leave', 'people': 'myapp.people.on_leave', 'status': 'Leave', "
                "'check_in': None, 'check_out': None}, or {'people': …, 'skip': True} for no record.",
                id="attendance_push.E041",
            )
            continue
        yield from _check_people_function(rule_where, "people", rule["people"], person_model, "attendance_push.E041")
        if not isinstance(rule.get("skip", False), bool):
            yield checks.Error(
                f"{rule_where}['skip'] must be True or False.", hint="True gives no record.", id="attendance_push.E041"
            )
        if "status" in rule and target.status_field and status_ok:
            status_field = target.model._meta.get_field(target.status_field)
            problem = _status_problem(target, status_field, rule["status"])
            if problem is not None:
                yield checks.Error(
                    f"{rule_where}['status']: {problem}",
                    hint=_status_hint(rule_where, status_field),
                    id="attendance_push.E041",
                )
        for key in ("check_in", "check_out"):
            if key in rule:
                yield from _check_time_choice(rule_where, key, rule[key], person_model)


def _check_people_function(
    where: str, key: str, path: Any, person_model, check_id: str
) -> Iterator[checks.CheckMessage]:
    """Check a people function: importable, and what it gives for a day is valid lookups on the people model."""
    try:
        _resolve_people_function(path, person_model)
    except _Unusable as unusable:
        yield unusable.error(where, key, check_id)


def _resolve_people_function(path: Any, person_model) -> None:
    """Call the people function `path` names with a day and resolve its lookups; raise _Unusable if either fails."""
    function = _import_function(path)
    hint = f"The function gets a datetime.date and returns a Q (or a dict of lookups) on {person_model._meta.label}."
    try:
        # Any day shows the shape of what the function returns; the push calls it with the day it pushes.
        lookups = function(timezone.now().date())
        if not isinstance(lookups, models.Q | dict):
            raise _Unusable(f"{path}(day) returned {type(lookups).__name__}, not a Q or a dict of lookups.", hint)
        _resolve_lookups(person_model, lookups)
    except (FieldError, ValidationError, ValueError, TypeError) as exc:
        raise _Unusable(f"{path}(day) gives invalid lookups: {exc}", hint) from exc


def _check_time_choice(where: str, key: str, spec: Any, person_model) -> Iterator[checks.CheckMessage]:
    """Check a check_in/check_out: None, "HH:MM", or {"field": "path__on__the_person"} to a TimeField."""
    if spec is None:
        return
    hint = "Write 'HH:MM', None (no time), or {'field': 'shift__starts_at'} (a TimeField reached from the person)."
    if isinstance(spec, dict) and set(spec) == {"field"} and isinstance(spec["field"], str):
        path = spec["field"]
        try:
            query = person_model._default_manager.values(path).query
            field = query.resolve_ref(query.values_select[0]).output_field
        except (FieldError, FieldDoesNotExist, IndexError) as exc:
            yield checks.Error(
                f"{where}['{key}'] {path!r} is not a field reached from {person_model._meta.label}: {exc}",
                hint=hint,
                id="attendance_push.E042",
            )
            return
        if not isinstance(field, models.TimeField):
            yield checks.Error(f"{where}['{key}'] {path!r} is not a TimeField.", hint=hint, id="attendance_push.E042")
        return
    try:
        parse_time(spec)  # a dict other than {"field": ...} is not a time either
    except ValueError:
        yield checks.Error(f"{where}['{key}'] {spec!r} is not a time.", hint=hint, id="attendance_push.E042")


def _check_host_logic(where: str, target: Target, model) -> Iterator[checks.CheckMessage]:
    """Warn when set-based writes would bypass the model's save() or its own post_save receivers."""
    if target.write != "sql":
        return
    overrides_save = any(
        "save" in vars(cls) for cls in model.__mro__ if cls is not models.Model and issubclass(cls, models.Model)
    )
    own_receivers = any(key[1] == _make_id(model) for key, *_rest in post_save.receivers)
    if not (overrides_save or own_receivers):
        return
    logic = " and ".join(
        part
        for part, present in (("overrides save()", overrides_save), ("has post_save receivers", own_receivers))
        if present
    )
    yield checks.Warning(
        f"{where}: {model._meta.label} {logic}, which the set-based push ('write': 'sql') does not run.",
        hint="Set 'write': 'save' for this target to save each record through the model, or connect "
        "attendance_push.signals.target_pushed to do the same work in bulk.",
        id="attendance_push.W040",
    )


def _check_per_row_defaults(where: str, model: type[models.Model], mapped) -> Iterator[checks.CheckMessage]:
    """Refuse unique columns whose default is computed per row (a UUID key): one INSERT … SELECT
    computes it once, so every pushed record would get the same value."""
    mapped = {field.name for field in mapped}
    constrained = {
        name
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
        for name in constraint.fields
    }
    for field in model._meta.concrete_fields:
        if field.name in mapped or not field.has_default() or not callable(field.default):
            continue
        if field.primary_key or field.unique or field.name in constrained:
            yield checks.Error(
                f"{where}: {model._meta.label}.{field.name} is unique and its default is computed per record; "
                "the set-based push would give every record the same value.",
                hint="Give the field a database default (db_default=...), or set 'write': 'save' for this target.",
                id="attendance_push.E019",
            )


def _check_unfilled(where: str, model: type[models.Model], mapped) -> Iterator[checks.CheckMessage]:
    mapped = {field.name for field in mapped}
    for field in model._meta.concrete_fields:
        if field.name in mapped or field.primary_key or field.null or field.has_default():
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.blank and isinstance(field, models.CharField | models.TextField):
            continue  # Django saves "" for a text field left blank, and so does the push
        if field.has_db_default():
            continue
        yield checks.Error(
            f"{where}: {model._meta.label}.{field.name} is required and the push has no value for it.",
            hint="Give the field a default, or make it nullable.",
            id="attendance_push.E013",
        )
