"""Who is expected on a day, and which rule decides each person's record.

Querysets only, built and never run here: the push counts or writes them through `sql.py`.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef
from django.utils.module_loading import import_string

from .. import text
from ..conf import Rule, Target
from ..exceptions import PushError
from ..sql import joins_many


def call_day_function(path: str, day: datetime.date, where: str) -> Any:
    """Import the function at dotted `path` and return what it gives for `day`; raise PushError if it cannot."""
    try:
        function = import_string(path)
    except ImportError as exc:
        raise PushError(text.cannot_import(where, path, exc)) from None
    return function(day)


def day_q(path: str, day: datetime.date, where: str) -> models.Q:
    """Return the people lookups the function at `path` gives for `day` (a Q, or a dict of lookups)."""
    result = call_day_function(path, day, where)
    if isinstance(result, models.Q):
        return result
    if isinstance(result, dict):
        return models.Q(**result)
    raise PushError(text.not_a_q(where, path, result))


def people_manager(model: type[models.Model], alias: str) -> models.QuerySet:
    """Return every row of `model` on `alias`."""
    return model._default_manager.using(alias)


def expected(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the people this target pushes on `day`: people_filter AND people_on_day(day)."""
    people = target.people(alias)
    if target.people_on_day:
        people = people.filter(day_q(target.people_on_day, day, f"{target.label} people_on_day"))
    people = people.order_by()
    if joins_many(people):
        # A lookup across a multi-valued relation can repeat a person; keep each one once.
        people = people_manager(target.person_model, alias).filter(pk__in=people.values("pk")).order_by()
    return people


def day_records(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the target's attendance records of `day`."""
    return target.model._default_manager.using(alias).filter(**{target.date_field: day}).order_by()


def missing(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the people expected on `day` who have no record of it."""
    person_key = target.model._meta.get_field(target.person_field).target_field.name
    has_record = day_records(target, day, alias).filter(**{target.person_field: OuterRef(person_key)})
    return expected(target, day, alias).filter(~Exists(has_record))


def rule_buckets(
    target: Target, day: datetime.date, alias: str, base: models.QuerySet | None = None
) -> list[tuple[Rule, models.QuerySet]]:
    """Return each rule with the missing people it decides: those it matches and no earlier rule does.

    The default record's people are those no rule matches. Every person is in exactly one bucket:
    the same EXISTS decides "matches" for a rule and "matched earlier" for the ones after it.
    With `base`, the buckets split those people instead of the missing ones.
    """
    people_left = missing(target, day, alias) if base is None else base
    people = people_manager(target.person_model, alias).order_by()
    earlier: list[Exists] = []
    buckets = []
    for rule in target.rule_list:
        bucket = people_left
        for match in earlier:
            bucket = bucket.filter(~match)
        if rule.people is not None:
            q = day_q(rule.people, day, f"{target.label} rule {rule.name!r}")
            matches = Exists(people.filter(q).filter(pk=OuterRef("pk")))
            bucket = bucket.filter(matches)
            earlier.append(matches)
        buckets.append((rule, bucket))
    return buckets


def outside(target: Target, day: datetime.date, alias: str) -> Exists | None:
    """Return the condition on a record that `people_on_day` excludes its person on `day`, or None without one."""
    if not target.people_on_day:
        return None
    person_fk = target.model._meta.get_field(target.person_field)
    there = (
        people_manager(target.person_model, alias)
        .filter(day_q(target.people_on_day, day, f"{target.label} people_on_day"))
        .filter(**{person_fk.target_field.name: OuterRef(target.person_field)})
    )
    return ~Exists(there)


def open_records(target: Target, day: datetime.date, alias: str) -> models.QuerySet:
    """Return the day's records of targeted people with a check-in and no check-out."""
    person_key = target.model._meta.get_field(target.person_field).target_field.name
    # Correlated EXISTS, not person IN (all targeted people): the day's few open records are
    # found by the date, and each is matched to its person by key.
    targeted = expected(target, day, alias).filter(**{person_key: OuterRef(target.person_field)})
    return day_records(target, day, alias).filter(
        Exists(targeted),
        **{f"{target.check_in_field}__isnull": False, f"{target.check_out_field}__isnull": True},
    )
