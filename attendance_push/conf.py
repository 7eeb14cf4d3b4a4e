"""The plugin's settings: `settings.ATTENDANCE_PUSH`, shadowed with defaults and a little parsing.

Nothing is read at import time, so `override_settings` works and a bad value surfaces in the
system checks (`checks/`) rather than as an import error.
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import translation

from .exceptions import PushError

DEFAULTS: dict[str, Any] = {
    "TIME": "21:00",
    "TIME_ZONE": "Asia/Kathmandu",
    "STATUS": "Present",
    "CHECK_IN": "09:00",
    "CHECK_OUT": "17:00",
    "ACTOR": None,
    "TARGETS": [],
    "CATCH_UP_DAYS": 3,
    "SITE_URL": None,
    # The name of the AdminSite whose history the links in e-mails open (a custom site's `name`).
    "ADMIN_SITE": "admin",
    "KEEP_LEDGER_DAYS": 400,
    "KEEP_RUNS_DAYS": None,
    "MAX_PAST_DAYS": 366,
    # The working calendar (workdays.py): weekday names MON … SUN, and holidays from the `holidays`
    # package, e.g. {"country": "NP", "subdiv": None, "categories": None}.
    "WEEKLY_OFF": [],
    "HOLIDAYS": None,
    # How long the health URL's public answer is kept before it is computed again (seconds).
    "HEALTH_CACHE_SECONDS": 30,
}


class _Inherit:
    """The value of a key a target or a rule does not set: the one above it applies (the settings', the target's)."""

    def __repr__(self) -> str:
        return "INHERIT"


INHERIT: Any = _Inherit()

TARGET_DEFAULTS: dict[str, Any] = {
    "people_filter": {},
    "date_field": "date",
    "status_field": "status",
    "check_in_field": "time_in",
    "check_out_field": "time_out",
    "created_by_field": "created_by",
    "status": None,
    "extra_values": {},
    "write": "sql",
    "people_on_day": None,
    "rules": [],
    "fill_values": {},
    "check_in": None,
    "check_out": None,
    # The global WEEKLY_OFF / HOLIDAYS unless the target gives its own (None for holidays means none).
    "weekly_off": INHERIT,
    "holidays": INHERIT,
}
TARGET_REQUIRED = ("attendance", "person_field")
RULE_KEYS = frozenset({"name", "people", "status", "check_in", "check_out", "skip"})
TARGET_KEYS = frozenset(TARGET_REQUIRED) | frozenset(TARGET_DEFAULTS)
WRITE_MODES = ("sql", "save")

SCHEDULE_NAME = "attendance_push.daily"
PRUNE_SCHEDULE_NAME = "attendance_push.prune"
CATCH_UP_SCHEDULE_NAME = "attendance_push.catch_up"
TEST_SCHEDULE_NAME = "attendance_push.hourly_test"


def parse_time(value: Any) -> datetime.time:
    """Return `value` ("HH:MM" or a `datetime.time`) as a time; raise ValueError otherwise."""
    if isinstance(value, datetime.time):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    return datetime.datetime.strptime(value.strip(), "%H:%M").time()


@dataclass(frozen=True)
class Rule:
    """Who gets which record: the people a function selects for the day, and what their record says."""

    name: str
    people: str | None  # None: the default record, for the people no rule matches
    status: Any = INHERIT
    check_in: Any = INHERIT
    check_out: Any = INHERIT
    skip: bool = False


DEFAULT_RULE = Rule(name="", people=None)


def rule_problem(raw: Any) -> str | None:
    """Return what is wrong with the shape of one rule of a target's `rules` (the checks' E041 says it), or None."""
    if not isinstance(raw, dict) or "people" not in raw or set(raw) - RULE_KEYS:
        return f"must be a dict with 'people' (a dotted path) and only the keys {', '.join(sorted(RULE_KEYS))}."
    return None


def parse_rules(label: str, raw_rules: Any) -> list[Rule]:
    """Return a target's `rules` setting as Rules in order, then the default record; raise PushError if malformed."""
    rules = []
    for index, raw in enumerate(raw_rules):
        problem = rule_problem(raw)
        if problem is None and not isinstance(raw["people"], str):
            problem = "'people' must be a dotted path."
        if problem:
            # The checks reported it already (E041); a push that runs anyway refuses the same way.
            raise PushError(f"{label} rules[{index}] {problem}")
        with translation.override(None):
            # As the settings write it, whatever language this thread reads (a name may be translatable):
            # the run keeps it, and the pages word it in the reader's language.
            name = str(raw.get("name") or raw["people"])
        rules.append(
            Rule(
                name=name,
                people=raw["people"],
                status=raw.get("status", INHERIT),
                check_in=raw.get("check_in", INHERIT),
                check_out=raw.get("check_out", INHERIT),
                skip=bool(raw.get("skip", False)),
            )
        )
    return [*rules, DEFAULT_RULE]


@dataclass(frozen=True)
class Target:
    """One attendance model to push, with the names of its fields."""

    attendance: str
    person_field: str
    people_filter: dict[str, Any] | models.Q
    date_field: str
    status_field: str | None
    check_in_field: str | None
    check_out_field: str | None
    created_by_field: str | None
    status: Any
    extra_values: dict[str, Any] | str
    write: str
    people_on_day: str | None
    rules: list[dict[str, Any]]
    fill_values: dict[str, Any] | str
    check_in: str | datetime.time | dict[str, str] | None
    check_out: str | datetime.time | dict[str, str] | None
    weekly_off: Any
    holidays: Any

    @classmethod
    def from_setting(cls, raw: dict[str, Any]) -> Target:
        return cls(**{**TARGET_DEFAULTS, **raw})

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.attendance)

    @property
    def person_model(self) -> type[models.Model]:
        return self.model._meta.get_field(self.person_field).related_model

    @property
    def label(self) -> str:
        return self.model._meta.label

    @cached_property
    def rule_list(self) -> list[Rule]:
        """Return the target's rules, parsed once, then the default record (see parse_rules)."""
        return parse_rules(self.label, self.rules)

    @property
    def weekly_off_days(self) -> list[str]:
        """Return this target's weekly off day names (its own, else the global WEEKLY_OFF)."""
        return list(conf.WEEKLY_OFF if self.weekly_off is INHERIT else self.weekly_off or [])

    @property
    def holiday_calendar(self) -> dict[str, Any] | None:
        """Return this target's `holidays` options (its own, else the global HOLIDAYS), or None."""
        return conf.HOLIDAYS if self.holidays is INHERIT else self.holidays

    def people(self, using: str) -> models.QuerySet:
        """Return the people this target pushes (people_filter is a dict of lookups or a Q)."""
        people = self.person_model._default_manager.using(using)
        if isinstance(self.people_filter, models.Q):
            return people.filter(self.people_filter)
        return people.filter(**self.people_filter)


def write_modes() -> dict[str, str]:
    """Return how each target writes its records ("sql" or "save"), for the targets whose model is installed."""
    modes = {}
    for target in conf.TARGETS:
        with contextlib.suppress(LookupError, ValueError):
            modes[target.label] = target.write
    return modes


class Settings:
    """Read `settings.ATTENDANCE_PUSH` on every access, falling back to `DEFAULTS`."""

    @property
    def raw(self) -> dict[str, Any]:
        return getattr(settings, "ATTENDANCE_PUSH", {})

    def _get(self, key: str) -> Any:
        return self.raw.get(key, DEFAULTS[key])

    @property
    def TIME(self) -> datetime.time:
        return parse_time(self._get("TIME"))

    @property
    def TIME_ZONE(self) -> ZoneInfo:
        return ZoneInfo(self._get("TIME_ZONE"))

    @property
    def STATUS(self) -> str:
        return self._get("STATUS")

    @property
    def CHECK_IN(self) -> datetime.time:
        return parse_time(self._get("CHECK_IN"))

    @property
    def CHECK_OUT(self) -> datetime.time:
        return parse_time(self._get("CHECK_OUT"))

    @property
    def ACTOR(self) -> str | None:
        return self._get("ACTOR")

    @property
    def CATCH_UP_DAYS(self) -> int:
        return self._get("CATCH_UP_DAYS")

    @property
    def MAX_PAST_DAYS(self) -> int:
        return self._get("MAX_PAST_DAYS")

    @property
    def SITE_URL(self) -> str:
        return (self._get("SITE_URL") or "").rstrip("/")

    @property
    def ADMIN_SITE(self) -> str:
        return self._get("ADMIN_SITE")

    @property
    def KEEP_LEDGER_DAYS(self) -> int | None:
        return self._get("KEEP_LEDGER_DAYS")

    @property
    def KEEP_RUNS_DAYS(self) -> int | None:
        return self._get("KEEP_RUNS_DAYS")

    @property
    def WEEKLY_OFF(self) -> list[str]:
        return list(self._get("WEEKLY_OFF") or [])

    @property
    def HOLIDAYS(self) -> dict[str, Any] | None:
        return self._get("HOLIDAYS")

    @property
    def HEALTH_CACHE_SECONDS(self) -> int:
        return self._get("HEALTH_CACHE_SECONDS")

    @property
    def TARGETS(self) -> list[Target]:
        return [Target.from_setting(raw) for raw in self._get("TARGETS")]


conf = Settings()
