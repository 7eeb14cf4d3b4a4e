"""The push: fill one day's missing attendance, set-based, all targets in one transaction.

Everything that pushes (the schedule, the command, the admin) ends up in `push`; `runs.py`
records each attempt as a PushRun. Nothing else writes attendance.
"""

from __future__ import annotations

import datetime
import logging
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Exists, F, OuterRef, Subquery, Value
from django.db.models.constants import LOOKUP_SEP, OnConflict
from django.db.models.fields import AutoFieldMixin
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .conf import RULE_KEYS, Target, conf, parse_time
from .exceptions import DayTooOldError, NoActorError, PushError
from .ledger import (
    Decision,
    Entry,
    correct_earlier,
    earlier_runs,
    filled_rows,
    pushed_values,
    record_fill,
    record_fingerprints,
    record_insert,
    record_people,
    rule_rows,
    rule_values,
    withdraw_earlier,
)
from .models import PushedRecord
from .signals import target_pushed
from .workdays import Reason, closed_day_reasons, reason_text

logger = logging.getLogger("attendance_push")

# pg_advisory_xact_lock(namespace, day) serialises pushes of one day across processes and hosts.
LOCK_NAMESPACE = zlib.crc32(b"attendance_push") - 2**31


@dataclass(frozen=True)
class RuleResult:
    """What one rule (or the default record, `rule` "") did, or would do, to one target."""

    rule: str
    status: str
    created: int = 0
    skipped: int = 0
    skip: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "created": self.created, "skipped": self.skipped}


@dataclass(frozen=True)
class TargetResult:
    """What a push did (or, in a dry run, would do) to one attendance model."""

    label: str
    created: int
    filled: int
    skipped: int
    rules: tuple[RuleResult, ...] = ()
    # What the push wrote, for the ledger's undo (see ledger.pushed_values); empty in a dry run.
    pushed: dict[str, Any] = dataclass_field(default_factory=dict, compare=False)
    # Records earlier pushes of the day created and nobody changed since, that the rules now decide
    # otherwise (changed, or deleted by a skip rule) or that are now false (withdrawn: the day closed
    # since, or the person no longer expected that day by people_on_day).
    corrected: int = 0
    # Why the day is closed for this target (a weekly off, a holiday, a closure), in no language
    # (workdays.Reason), or None when open; `closed` words it in the pusher's.
    closed_reason: Reason | None = None

    @property
    def closed(self) -> str | None:
        return reason_text(self.closed_reason) if self.closed_reason else None

    def counts(self) -> dict[str, Any]:
        counts = {
            "created": self.created,
            "filled": self.filled,
            "skipped": self.skipped,
            "rules": [rule.as_dict() for rule in self.rules],
        }
        if self.corrected:
            counts["corrected"] = self.corrected
        if self.closed:
            counts["closed"] = self.closed
        if self.closed_reason:
            counts["closed_reason"] = self.closed_reason
        return counts


@dataclass(frozen=True)
class PushResult:
    """What a push did to every target for one day."""

    day: datetime.date
    targets: tuple[TargetResult, ...]
    dry_run: bool = False

    @property
    def created(self) -> int:
        return sum(target.created for target in self.targets)

    @property
    def filled(self) -> int:
        return sum(target.filled for target in self.targets)

    @property
    def skipped(self) -> int:
        return sum(target.skipped for target in self.targets)

    @property
    def closed(self) -> dict[str, str]:
        """Return the reason of each target the day is closed for."""
        return {target.label: target.closed for target in self.targets if target.closed}

    def counts(self) -> dict[str, dict[str, Any]]:
        return {target.label: target.counts() for target in self.targets}

    @property
    def pushed(self) -> dict[str, dict[str, Any]]:
        return {target.label: target.pushed for target in self.targets if target.pushed}


def describe_rules(rules: list[dict[str, Any]]) -> str:
    """Return what the rules of one target did in words: "120 Present, 4 Leave, 2 skipped by rule"."""
    created: dict[str, int] = {}
    skipped = 0
    # The default record first: it is what most people get.
    for rule in sorted(rules, key=lambda rule: rule.get("rule") != ""):
        if rule.get("skipped"):
            skipped += rule["skipped"]
        if rule.get("created"):
            # A status label is kept in the source's words (see _rule_status): in the reader's language here.
            status = _(rule["status"]) if rule.get("status") else _("records")
            created[status] = created.get(status, 0) + rule["created"]
    parts = [_("%(count)d %(status)s") % {"count": count, "status": status} for status, count in created.items()]
    if skipped:
        parts.append(_("%(count)d skipped by rule") % {"count": skipped})
    return ", ".join(parts) or _("no records")


def corrected_words(count: int) -> str:
    """Return "N earlier records corrected": unchanged records of earlier pushes changed, or deleted as false."""
    return ngettext("%(count)d earlier record corrected", "%(count)d earlier records corrected", count) % {
        "count": count
    }


def today() -> datetime.date:
    """Return today's date in the push time zone."""
    return timezone.localdate(timezone=conf.TIME_ZONE)


def validate_day(day: datetime.date) -> datetime.date:
    """Return `day`, or raise PushError when it is in the future of the push time zone or too far back."""
    current = today()
    if day > current:
        raise PushError(
            _("%(day)s is in the future (today is %(today)s in %(zone)s); only today and past days can be pushed.")
            % {"day": f"{day:%Y-%m-%d}", "today": f"{current:%Y-%m-%d}", "zone": conf.TIME_ZONE.key}
        )
    oldest = earliest_day(current)
    if day < oldest:
        raise DayTooOldError(
            _(
                "%(day)s is more than %(max)d days ago (the oldest day that can be pushed is %(oldest)s); "
                "ATTENDANCE_PUSH['MAX_PAST_DAYS'] sets how far back a push may go."
            )
            # isoformat, not %Y: strftime writes the year 1 as "1".
            % {"day": day.isoformat(), "max": conf.MAX_PAST_DAYS, "oldest": oldest.isoformat()},
            day=day,
            oldest=oldest,
        )
    return day


def earliest_day(current: datetime.date | None = None) -> datetime.date:
    """Return the oldest day a push accepts: MAX_PAST_DAYS before today in the push time zone."""
    current = current or today()
    try:
        return current - datetime.timedelta(days=conf.MAX_PAST_DAYS)
    except OverflowError:
        return datetime.date.min


def resolve_actor() -> models.Model:
    """Return the user recorded as the creator of pushed records, or raise PushError."""
    User = get_user_model()  # noqa: N806
    users = User._default_manager.filter(is_active=True)
    if conf.ACTOR:
        actor = users.filter(**{User.USERNAME_FIELD: conf.ACTOR}).first()
        if actor is None:
            raise NoActorError(
                _(
                    "ATTENDANCE_PUSH['ACTOR'] is %(actor)r, but no active user has that username. In the admin, "
                    "add that user under %(users)s › %(add_user)s (on the server: python manage.py "
                    "createsuperuser), or correct the setting."
                )
                % {"actor": conf.ACTOR, **user_admin_words()},
                actor=conf.ACTOR,
            )
        return actor
    actor = users.filter(is_superuser=True).order_by("pk").first()
    if actor is None:
        raise NoActorError(
            _(
                "No active superuser to record as the creator of pushed records. In the admin, add one under "
                "%(users)s › %(add_user)s and tick “%(superuser)s” (on the server: python manage.py "
                "createsuperuser)."
            )
            % user_admin_words()
        )
    return actor


# Django admin's own msgid of its "Add user" button, looked up in Django's catalogue so that it reads as the
# button does in every language; written as a literal in a gettext call, it would be extracted into ours.
ADMIN_ADD = "Add %(name)s"


def user_admin_words() -> dict[str, str]:
    """Return the words the admin itself shows for adding a superuser: "Users", "Add user", "Superuser status"."""
    meta = get_user_model()._meta
    try:
        superuser = meta.get_field("is_superuser").verbose_name
    except FieldDoesNotExist:
        superuser = "is_superuser"
    return {
        "users": str(capfirst(meta.verbose_name_plural)),
        "add_user": _(ADMIN_ADD) % {"name": meta.verbose_name},
        # Django's Nepali catalogue ends this one with a space.
        "superuser": str(capfirst(superuser)).strip(),
    }


def actor_needed(days: list[datetime.date], *, include_closed: bool = False) -> bool:
    """Return whether pushing `days` creates records for a target that records their creator.

    A day closed for a target creates nothing there (unless `include_closed`), so it needs no actor.
    """
    recording = [target for target in conf.TARGETS if target.created_by_field]
    if not recording or not days:
        return False
    if include_closed:
        return True
    closed = closed_day_reasons(recording, min(days), max(days))
    return any(day not in closed[target.label] for target in recording for day in days)


def push(
    day: datetime.date, *, dry_run: bool = False, run_id: int | None = None, include_closed: bool = False
) -> PushResult:
    """Push `day` for every target in one transaction and return the counts.

    With `run_id` (the PushRun of this attempt), every record written is entered in the ledger.
    Where the day is closed for a target, create nothing (unless `include_closed`) but still fill
    its open check-outs. With `dry_run`, count what would change and write nothing.
    """
    validate_day(day)
    targets = conf.TARGETS
    closed = {label: by_day[day] for label, by_day in closed_day_reasons(targets, day, day).items() if day in by_day}
    # Per target: (whether to insert the missing records, why the day is closed or None).
    plan = {t.label: (include_closed or t.label not in closed, closed.get(t.label)) for t in targets}
    needs_actor = any(target.created_by_field and plan[target.label][0] for target in targets)
    actor = resolve_actor() if needs_actor else None
    if dry_run:
        return PushResult(
            day, tuple(_preview_target(t, day, *plan[t.label], actor=actor) for t in targets), dry_run=True
        )
    aliases = sorted({router.db_for_write(target.model) for target in targets})
    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(transaction.atomic(using=alias))
            _lock_day(alias, day)
        results = tuple(_push_target(target, day, actor, run_id, *plan[target.label]) for target in targets)
    return PushResult(day, results)


def _lock_day(alias: str, day: datetime.date) -> None:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        # Released at commit or rollback; concurrent pushes of the same day wait here, then
        # find nothing left to do.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, day.toordinal()])
    # SQLite serialises writers itself: with transaction_mode IMMEDIATE the transaction above
    # already holds the write lock.


# --- Settings that depend on the day ------------------------------------------------------------


def call_day_function(path: str, day: datetime.date, where: str) -> Any:
    """Import the function at dotted `path` and return what it gives for `day`; raise PushError if it cannot."""
    try:
        function = import_string(path)
    except ImportError as exc:
        raise PushError(
            _("%(where)s: cannot import %(path)r: %(error)s") % {"where": where, "path": path, "error": exc}
        ) from None
    return function(day)


def day_q(path: str, day: datetime.date, where: str) -> models.Q:
    """Return the people lookups the function at `path` gives for `day` (a Q, or a dict of lookups)."""
    result = call_day_function(path, day, where)
    if isinstance(result, models.Q):
        return result
    if isinstance(result, dict):
        return models.Q(**result)
    raise PushError(
        _("%(where)s: %(path)s(day) returned %(type)s, not a Q or a dict of lookups.")
        % {"where": where, "path": path, "type": type(result).__name__}
    )


def day_values(values: dict[str, Any] | str, day: datetime.date, where: str) -> dict[str, Any]:
    """Return a values setting for `day`: the dict itself, or what the function at its dotted path returns."""
    if not isinstance(values, str):
        return dict(values)
    result = call_day_function(values, day, where)
    if not isinstance(result, dict):
        raise PushError(
            _("%(where)s: %(path)s(day) returned %(type)s, not a dict of field names and values.")
            % {"where": where, "path": values, "type": type(result).__name__}
        )
    return result


_INHERIT = object()


@dataclass(frozen=True)
class Rule:
    """Who gets which record: the people a function selects for the day, and what their record says."""

    name: str
    people: str | None  # None: the default record, for the people no rule matches
    status: Any = _INHERIT
    check_in: Any = _INHERIT
    check_out: Any = _INHERIT
    skip: bool = False


DEFAULT_RULE = Rule(name="", people=None)


def target_rules(target: Target) -> list[Rule]:
    """Return the target's rules in order, then the default record; raise PushError on a malformed rule."""
    rules = []
    for index, raw in enumerate(target.rules):
        where = f"{target.label} rules[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("people"), str) or set(raw) - RULE_KEYS:
            raise PushError(
                _("%(where)s must be a dict with 'people' (a dotted path) and only the keys %(keys)s.")
                % {"where": where, "keys": ", ".join(sorted(RULE_KEYS))}
            )
        with translation.override(None):
            # As the settings write it, whatever language this thread reads (a name may be translatable):
            # the run keeps it, and the pages word it in the reader's language.
            name = str(raw.get("name") or raw["people"])
        rules.append(
            Rule(
                name=name,
                people=raw["people"],
                status=raw.get("status", _INHERIT),
                check_in=raw.get("check_in", _INHERIT),
                check_out=raw.get("check_out", _INHERIT),
                skip=bool(raw.get("skip", False)),
            )
        )
    return [*rules, DEFAULT_RULE]


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


def _rule_status(target: Target, rule: Rule) -> tuple[Any, str]:
    """Return the status value of the rule's records and its label for the counts."""
    if not target.status_field:
        return None, ""
    status = None if rule.status is _INHERIT else rule.status
    try:
        value = status_value(target, status)
    except ValueError as exc:
        raise PushError(f"{target.label}: {exc}") from None
    field = target.model._meta.get_field(target.status_field)
    chosen = target.status if status is None else status
    # The label in the words of the source, whatever language this thread reads: the run keeps it,
    # and describe_rules words it in the reader's language.
    with translation.override(None):
        if field.flatchoices:
            label = dict(field.flatchoices).get(value, value)
        elif isinstance(field, models.BooleanField):
            # A boolean status says whether the person was there.
            label = _("present") if value else _("absent")
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


def _target_times(target: Target) -> tuple[Any, Any]:
    check_in = conf.CHECK_IN if target.check_in is None else time_choice(target.check_in, conf.CHECK_IN)
    check_out = conf.CHECK_OUT if target.check_out is None else time_choice(target.check_out, conf.CHECK_OUT)
    return check_in, check_out


def planned_records(target: Target) -> list[tuple[Rule, str, Any, Any]]:
    """Return each rule of `target` (the default record last) with its status label, check-in and check-out."""
    check_in, check_out = _target_times(target)
    planned = []
    for rule in target_rules(target):
        label = "" if rule.skip else _rule_status(target, rule)[1]
        rule_in = check_in if rule.check_in is _INHERIT else time_choice(rule.check_in, None)
        rule_out = check_out if rule.check_out is _INHERIT else time_choice(rule.check_out, None)
        planned.append((rule, label, rule_in, rule_out))
    return planned


# --- Expressions: one value per row ----------------------------------------------------------------


def _rebase(expression: Any, replace: Callable[[str], Any]) -> Any:
    """Return `expression` with every F() replaced by `replace(name)`."""
    if isinstance(expression, F) and not isinstance(expression, OuterRef):
        return replace(expression.name)
    if not hasattr(expression, "get_source_expressions"):
        return expression
    copy = expression.copy()
    copy.set_source_expressions([_rebase(source, replace) for source in copy.get_source_expressions()])
    return copy


def _person_ref_in_update(target: Target) -> Callable[[str], Any]:
    """Return how an UPDATE of attendance rows reads a path on the row's person (a correlated subquery)."""
    person_fk = target.model._meta.get_field(target.person_field)
    people = target.person_model._default_manager.order_by()

    def ref(path: str) -> Any:
        return Subquery(people.filter(**{person_fk.target_field.name: OuterRef(target.person_field)}).values(path)[:1])

    return ref


def _to_expression(
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
            raise PushError(
                _("%(target)s: F(%(name)r) names neither a field the push sets nor '%(prefix)s…' on the person.")
                % {"target": target.label, "name": name, "prefix": prefix}
            )

        return _rebase(value, replace)
    if value is None and field is not None:
        # A bare NULL has no type: PostgreSQL could not compute with it (NULL - NULL).
        return Cast(Value(None), output_field=field)
    return Value(value, output_field=field)


def _insert_values(
    target: Target, day: datetime.date, actor: models.Model | None, rule: Rule, status: Any
) -> dict[models.Field, Any]:
    """Return the expression of every column of a pushed record but the person, relative to the person row."""
    model = target.model
    meta = model._meta
    check_in, check_out = _target_times(target)
    chosen: dict[str, Any] = {target.date_field: day}
    if target.status_field:
        chosen[target.status_field] = status
    if target.check_in_field:
        chosen[target.check_in_field] = check_in if rule.check_in is _INHERIT else time_choice(rule.check_in, None)
    if target.check_out_field:
        chosen[target.check_out_field] = check_out if rule.check_out is _INHERIT else time_choice(rule.check_out, None)
    if target.created_by_field:
        chosen[target.created_by_field] = actor.pk
    extra = day_values(target.extra_values, day, f"{target.label} extra_values")

    def person_ref(path: str) -> Any:
        return F(path)

    own: dict[str, Any] = {}
    values: dict[models.Field, Any] = {}
    for name, value in [*chosen.items(), *extra.items()]:
        field = meta.get_field(name)
        values[field] = own[name] = _to_expression(value, field, target, own, person_ref, keep_unknown=False)
    if target.write == "save":
        return values  # each Model() computes its own defaults
    # The rest of the columns get what Model.save() would give them: defaults and auto_now(_add).
    blank = model()
    for field in meta.concrete_fields:
        if field in values or field.name == target.person_field:
            continue
        if isinstance(field, AutoFieldMixin) or field.generated or field.has_db_default():
            continue
        values[field] = Value(field.pre_save(blank, add=True), output_field=field)
    return values


# --- Who is pushed, and into which rule ------------------------------------------------------------


def _people(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the people this target pushes on `day`: people_filter AND people_on_day(day)."""
    people = target.people(alias)
    if target.people_on_day:
        people = people.filter(day_q(target.people_on_day, day, f"{target.label} people_on_day"))
    people = people.order_by()
    if len(people.query.alias_map) > 1:
        # A lookup across a multi-valued relation can repeat a person; keep each one once.
        people = target.person_model._default_manager.using(alias).filter(pk__in=people.values("pk")).order_by()
    return people


def _records(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    return target.model._default_manager.using(alias).filter(**{target.date_field: day}).order_by()


def _missing_people(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    person_key = target.model._meta.get_field(target.person_field).target_field.name
    has_record = _records(target, day, alias).filter(**{target.person_field: OuterRef(person_key)})
    return _people(target, day, alias).filter(~Exists(has_record))


def _rule_buckets(
    target: Target, day: datetime.date, alias: str, base: models.QuerySet | None = None
) -> list[tuple[Rule, models.QuerySet]]:
    """Return each rule with the missing people it decides: those it matches and no earlier rule does.

    The default record's people are those no rule matches. Every person is in exactly one bucket:
    the same EXISTS decides "matches" for a rule and "matched earlier" for the ones after it.
    With `base`, the buckets split those people instead of the missing ones.
    """
    missing = _missing_people(target, day, alias) if base is None else base
    people = target.person_model._default_manager.using(alias).order_by()
    earlier: list[Exists] = []
    buckets = []
    for rule in target_rules(target):
        bucket = missing
        for match in earlier:
            bucket = bucket.filter(~match)
        if rule.people is not None:
            q = day_q(rule.people, day, f"{target.label} rule {rule.name!r}")
            matches = Exists(people.filter(q).filter(pk=OuterRef("pk")))
            bucket = bucket.filter(matches)
            earlier.append(matches)
        buckets.append((rule, bucket))
    return buckets


# --- Check-outs: the one fill/skip rule ------------------------------------------------------------


@dataclass(frozen=True)
class FillPlan:
    """The day's open records split by the fill/skip rule, and the check-out they get."""

    to_fill: models.QuerySet
    to_skip: models.QuerySet
    check_out: Any


def _open_records(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the day's records of targeted people with a check-in and no check-out."""
    person_key = target.model._meta.get_field(target.person_field).target_field.name
    # Correlated EXISTS, not person IN (all targeted people): the day's few open records are
    # found by the date, and each is matched to its person by key.
    targeted = _people(target, day, alias).filter(**{person_key: OuterRef(target.person_field)})
    return _records(target, day, alias).filter(
        Exists(targeted),
        **{f"{target.check_in_field}__isnull": False, f"{target.check_out_field}__isnull": True},
    )


def fill_plan(target: Target, day: datetime.date, alias: str) -> FillPlan | None:
    """Split the day's open records: filled with the check-out, or skipped (the push and its preview share this).

    A check-in after the check-out would give a negative day: that record is skipped, left for a human.
    """
    if not (target.check_in_field and target.check_out_field):
        return None
    open_records = _open_records(target, day, alias)
    check_out = _target_times(target)[1]
    if isinstance(check_out, PersonTime):
        check_out = _to_expression(check_out, None, target, {}, _person_ref_in_update(target), keep_unknown=True)
    return FillPlan(
        to_fill=open_records.filter(**{f"{target.check_in_field}__lte": check_out}),
        to_skip=open_records.filter(**{f"{target.check_in_field}__gt": check_out}),
        check_out=check_out,
    )


def _fill_values(target: Target, day: datetime.date, plan: FillPlan) -> dict[str, Any]:
    """Return the columns a filled record gets: the check-out, fill_values, and auto_now fields."""
    model = target.model
    check_out = plan.check_out
    if not hasattr(check_out, "resolve_expression"):
        check_out = Value(check_out, output_field=model._meta.get_field(target.check_out_field))
    own = {target.check_out_field: check_out}
    person_ref = _person_ref_in_update(target)
    values = {target.check_out_field: plan.check_out}
    for name, value in day_values(target.fill_values, day, f"{target.label} fill_values").items():
        field = model._meta.get_field(name)
        values[name] = _to_expression(value, field, target, own, person_ref, keep_unknown=True)
    blank = model()
    for field in model._meta.concrete_fields:
        # QuerySet.update() leaves auto_now fields alone; Model.save() would set them.
        if getattr(field, "auto_now", False) and field.name not in values:
            values[field.name] = field.pre_save(blank, add=False)
    return values


# --- Preview and push ------------------------------------------------------------------------------


def _preview_target(
    target: Target, day: datetime.date, insert: bool = True, closed_reason: Reason | None = None, *, actor: Any = None
) -> TargetResult:
    alias = router.db_for_read(target.model)
    plan = fill_plan(target, day, alias)
    filled = skipped = 0
    if plan is not None:
        filled, skipped = plan.to_fill.count(), plan.to_skip.count()
    rules = []
    decisions: list[Decision] = []
    # A closed day: no rule creates anything (the check-outs above are still filled).
    for index, (rule, people) in enumerate(_rule_buckets(target, day, alias) if insert else ()):
        count = people.count()
        if rule.skip:
            rules.append(RuleResult(rule.name, "", skipped=count, skip=True))
            decisions.append(Decision(index, None, skip=True))
        else:
            status, label = _rule_status(target, rule)
            rules.append(RuleResult(rule.name, label, created=count))
            decisions.append(_decision(target, index, _insert_values(target, day, actor, rule, status)))
    corrected = _correct_earlier(target, Entry(None, target.label, day), alias, insert, decisions, dry_run=True)
    return TargetResult(
        target.label,
        sum(rule.created for rule in rules),
        filled,
        skipped,
        tuple(rules),
        corrected=corrected,
        closed_reason=closed_reason,
    )


def _decision(target: Target, index: int, values: dict[models.Field, Any]) -> Decision:
    """Return what rule `index` gives its people: its constant values and, for an UPDATE, its values per row."""
    person_ref = _person_ref_in_update(target)
    rows = {attname: _rebase(expression, person_ref) for attname, expression in rule_rows(target, values).items()}
    return Decision(index, rule_values(target, values), rows=rows)


def _outside(target: Target, day: datetime.date, alias: str) -> Exists | None:
    """Return the condition on a record that `people_on_day` excludes its person on `day`, or None without one."""
    if not target.people_on_day:
        return None
    person_fk = target.model._meta.get_field(target.person_field)
    there = (
        target.person_model._default_manager.using(alias)
        .filter(day_q(target.people_on_day, day, f"{target.label} people_on_day"))
        .filter(**{person_fk.target_field.name: OuterRef(target.person_field)})
    )
    return ~Exists(there)


def _correct_earlier(
    target: Target, entry: Entry, alias: str, insert: bool, decisions: list[Decision], *, dry_run: bool = False
) -> int:
    """Withdraw and correct the unchanged records of earlier pushes of the day; return how many (see ledger)."""
    runs = earlier_runs(target.label, entry.day, entry.run_id)
    if not runs:
        return 0
    # A closed day withdraws them all; an open one those of people no longer expected that day.
    corrected = withdraw_earlier(
        target, runs, alias, closed=not insert, outside=_outside(target, entry.day, alias), dry_run=dry_run
    )
    if insert:
        expected = _people(target, entry.day, alias)
        buckets = [people for _rule, people in _rule_buckets(target, entry.day, alias, base=expected)]
        corrected += correct_earlier(
            target, entry, list(zip(decisions, buckets, strict=True)), alias, runs, dry_run=dry_run
        )
    return corrected


def _push_target(
    target: Target,
    day: datetime.date,
    actor: models.Model | None,
    run_id: int | None,
    insert: bool = True,
    closed_reason: Reason | None = None,
) -> TargetResult:
    alias = router.db_for_write(target.model)
    entry = Entry(run_id, target.label, day) if run_id is not None else None
    by_save = target.write == "save"
    filled = skipped = 0
    plan = fill_plan(target, day, alias)
    fill_check_out = None
    if plan is not None:
        skipped = plan.to_skip.count()
        values = _fill_values(target, day, plan)
        fill_check_out = values[target.check_out_field]
        if by_save:
            filled = _fill_by_save(target, plan, values, alias, entry)
        else:
            filled = record_fill(connections[alias], entry, plan.to_fill, values, target.person_field, alias)
        if filled:
            record_fingerprints(target, entry, PushedRecord.Action.FILLED, filled_rows(target, fill_check_out), alias)
    rules = []
    written: list[dict[str, Any] | None] = []
    rows: list[list[str] | None] = []
    decisions: list[Decision] = []
    # A closed day: no rule creates anything (the check-outs above are still filled).
    for index, (rule, people) in enumerate(_rule_buckets(target, day, alias) if insert else ()):
        if rule.skip:
            rules.append(RuleResult(rule.name, "", skipped=people.count(), skip=True))
            written.append(None)
            rows.append(None)
            decisions.append(Decision(index, None, skip=True))
            continue
        status, label = _rule_status(target, rule)
        values = _insert_values(target, day, actor, rule, status)
        decision = _decision(target, index, values)
        written.append(decision.values)
        rows.append(list(decision.rows))
        decisions.append(decision)
        rule_entry = entry.of_rule(index) if entry is not None else None
        if by_save:
            created = _insert_by_save(target, people, values, alias, rule_entry)
        else:
            created = _insert_missing(target, people, values, alias, rule_entry)
        if created:
            # Only for values computed per row: a rule of constants needs no fingerprint.
            record_fingerprints(target, rule_entry, PushedRecord.Action.CREATED, rows[-1], alias)
        rules.append(RuleResult(rule.name, label, created=created))
    created = sum(rule.created for rule in rules)
    corrected = 0
    if entry is not None:
        corrected = _correct_earlier(target, entry, alias, insert, decisions)
    target_pushed.send(
        sender=target.model,
        day=day,
        created=created,
        filled=filled,
        skipped=skipped,
        rules=tuple(rules),
        using=alias,
        closed=reason_text(closed_reason) if closed_reason else None,
    )
    pushed = pushed_values(target, written, fill_check_out, rows) if entry is not None else {}
    return TargetResult(
        target.label, created, filled, skipped, tuple(rules), pushed, corrected, closed_reason=closed_reason
    )


def _fill_by_save(target: Target, plan: FillPlan, values: dict[str, Any], alias: str, entry: Entry | None) -> int:
    """Save every record to fill through the model; return how many the database then shows filled."""
    names = {f"attendance_push_{index}": name for index, name in enumerate(values)}
    annotations = {
        key: value if hasattr(value, "resolve_expression") else Value(value)
        for key, value in zip(names, values.values(), strict=True)
    }
    # Read before writing: SQLite would otherwise see the rows it is changing.
    # Locked: a person editing the record meanwhile is not overwritten by the full-row save.
    records = list(plan.to_fill.select_for_update().annotate(**annotations))
    meta = plan.to_fill.model._meta
    # By attname: a value of a ForeignKey is the related row's key.
    attnames = {key: meta.get_field(name).attname for key, name in names.items()}
    for record in records:
        for key, attname in attnames.items():
            setattr(record, attname, getattr(record, key))
        record.save(using=alias)
    if not records:
        return 0
    # What the database holds counts: a save() that declined left its record open.
    still_open = set(plan.to_fill.values_list("pk", flat=True))
    person = target.model._meta.get_field(target.person_field)
    done = [getattr(record, person.attname) for record in records if record.pk not in still_open]
    record_people(entry, "filled", done, person.target_field, alias)
    return len(done)


def _insert_by_save(
    target: Target, people: models.QuerySet, values: dict[models.Field, Any], alias: str, entry: Entry | None
) -> int:
    """Save a new record through the model for every person of `people`; return how many the database then holds."""
    model = target.model
    person_fk = model._meta.get_field(target.person_field)
    select, _columns = _annotated_select(target, people, values)
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
    record_people(entry, "created", done, person_fk.target_field, alias)
    return len(done)


def _annotated_select(
    target: Target, people: models.QuerySet, values: dict[models.Field, Any]
) -> tuple[models.QuerySet, list[str]]:
    """Return `people` selecting the person's key and each value, and the names of those columns."""
    person_fk = target.model._meta.get_field(target.person_field)
    expressions = [F(person_fk.target_field.name), *values.values()]
    names = [f"attendance_push_{index}" for index in range(len(expressions))]
    return people.annotate(**dict(zip(names, expressions, strict=True))).values_list(*names), names


def _insert_missing(
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
            raise PushError(
                f"{target.label}: some records conflict with a unique constraint other than (person, day); "
                "nothing was written. Check the model's unique fields and constraints."
            ) from None
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
    model = target.model
    connection = connections[alias]
    person_fk = model._meta.get_field(target.person_field)
    select, names = _annotated_select(target, people, values)
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
    persons = people.values_list(person_fk.target_field.name).query.get_compiler(alias).as_sql()
    return record_insert(
        connection,
        entry,
        (sql, list(select_params)),
        persons,
        person_column=person_fk.target_field.column,
        returning_column=person_fk.column,
    )
