"""Checks of the shapes and values of `settings.ATTENDANCE_PUSH`: its keys, the times and the zone, the day
counts, the addresses, the keys of each target, and the working calendar's options."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import checks

from ..conf import DEFAULTS, TARGET_KEYS, TARGET_REQUIRED, Target, parse_time
from ..workdays import HOLIDAY_KEYS, WEEKDAYS, holiday_calendar
from .environment import project_requirements
from .targets import SETTING, check_target

_KEEP_HINT = "None keeps everything; prune_push_history deletes what is older."
# The settings that count days: (key, check ID, the fewest days, the most or None, whether None keeps
# everything, hint). Literal IDs, one per setting, so that a search for the ID finds its check.
_DAY_COUNTS = (
    (
        "CATCH_UP_DAYS",
        "attendance_push.E014",
        0,
        None,
        False,
        "It is how many missed days a returning worker pushes; 0 turns catch-up off.",
    ),
    ("KEEP_LEDGER_DAYS", "attendance_push.E060", 1, None, True, _KEEP_HINT),
    ("KEEP_RUNS_DAYS", "attendance_push.E061", 1, None, True, _KEEP_HINT),
    (
        "MAX_PAST_DAYS",
        "attendance_push.E023",
        0,
        3660,
        False,
        "It is how far back the admin, the command and the preview accept a day (default 366). At most 3660, "
        "ten years: a backfill never needs more, and a mistyped year (2016 for 2026) is then refused rather "
        "than pushed as a whole day of records a decade back.",
    ),
)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keep_runs(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    """Refuse a KEEP_RUNS_DAYS that prunes runs catch-up or the health check still read."""
    keep, catch_up = (
        raw.get("KEEP_RUNS_DAYS", DEFAULTS["KEEP_RUNS_DAYS"]),
        raw.get("CATCH_UP_DAYS", DEFAULTS["CATCH_UP_DAYS"]),
    )
    if not (_whole(keep) and _whole(catch_up)) or keep < 1 or catch_up < 0:
        return []  # None, or already reported (E061, E014)
    fewest = max(catch_up, 1) + 1
    if keep >= fewest:
        return []
    return [
        checks.Error(
            f"{SETTING}['KEEP_RUNS_DAYS'] ({keep}) must be {fewest} or more with CATCH_UP_DAYS = {catch_up}: "
            "a day whose runs were pruned looks never pushed.",
            hint="Catch-up looks back CATCH_UP_DAYS days and the health check at yesterday, both in the runs; "
            "keep the runs longer than that, or None.",
            id="attendance_push.E062",
        )
    ]


# The health URL's public answer may be this old at most: it is also how often an anonymous call marks dead runs
# interrupted, which must happen within a minute of their death.
HEALTH_CACHE_MOST = 45


def _check_health_cache(raw: dict[str, Any]) -> list[checks.CheckMessage]:
    """Refuse a HEALTH_CACHE_SECONDS that is no whole number of seconds from 1 to HEALTH_CACHE_MOST."""
    value = raw.get("HEALTH_CACHE_SECONDS", DEFAULTS["HEALTH_CACHE_SECONDS"])
    if _whole(value) and 1 <= value <= HEALTH_CACHE_MOST:
        return []
    return [
        checks.Error(
            f"{SETTING}['HEALTH_CACHE_SECONDS'] must be a whole number of seconds from 1 to {HEALTH_CACHE_MOST}, "
            f"not {value!r}.",
            hint="It is how long the health URL's public answer is kept (default 30): long enough that anonymous "
            "calls cost nothing, short enough that a run whose process died is marked interrupted within a minute.",
            id="attendance_push.E025",
        )
    ]


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Validate every key of `ATTENDANCE_PUSH`."""
    raw = getattr(settings, SETTING, {})
    if not isinstance(raw, dict):
        return [
            checks.Error(
                f"{SETTING} must be a dict, not {type(raw).__name__}.",
                hint="See the README's settings reference.",
                id="attendance_push.E001",
            )
        ]
    errors: list[checks.CheckMessage] = []
    unknown = sorted(map(str, set(raw) - set(DEFAULTS)))
    if unknown:
        errors.append(
            checks.Error(
                f"{SETTING} has unknown key(s): {', '.join(unknown)}.",
                hint=f"Valid keys are {', '.join(DEFAULTS)}.",
                id="attendance_push.E001",
            )
        )
    errors.extend(_check_times(raw))
    zone = raw.get("TIME_ZONE", DEFAULTS["TIME_ZONE"])
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        errors.append(
            checks.Error(
                f"{SETTING}['TIME_ZONE'] {zone!r} is not a known time zone.",
                hint="Use an IANA name such as 'Asia/Kathmandu'.",
                id="attendance_push.E003",
            )
        )
    actor = raw.get("ACTOR")
    if actor is not None and not (isinstance(actor, str) and actor):
        errors.append(
            checks.Error(
                f"{SETTING}['ACTOR'] must be a username or None.",
                hint="None means the first active superuser.",
                id="attendance_push.E011",
            )
        )
    for key, check_id, minimum, maximum, none_keeps_all, hint in _DAY_COUNTS:
        value = raw.get(key, DEFAULTS[key])
        if (value is None and none_keeps_all) or (
            _whole(value) and value >= minimum and (maximum is None or value <= maximum)
        ):
            continue
        accepted = f"{minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        accepted += ", or None" if none_keeps_all else ""
        errors.append(
            checks.Error(
                f"{SETTING}[{key!r}] must be a whole number of days, {accepted}, not {value!r}.", hint=hint, id=check_id
            )
        )
    errors.extend(_check_keep_runs(raw))
    errors.extend(_check_health_cache(raw))
    admin_site = raw.get("ADMIN_SITE", DEFAULTS["ADMIN_SITE"])
    if not (isinstance(admin_site, str) and admin_site):
        errors.append(
            checks.Error(
                f"{SETTING}['ADMIN_SITE'] must be the name of an admin site, not {admin_site!r}.",
                hint="'admin' (the default site), or the name= of the AdminSite you registered PushRunAdmin on.",
                id="attendance_push.E024",
            )
        )
    site_url = raw.get("SITE_URL")
    if site_url is not None and not (isinstance(site_url, str) and site_url.startswith(("http://", "https://"))):
        errors.append(
            checks.Error(
                f"{SETTING}['SITE_URL'] {site_url!r} is not an http(s) address.",
                hint="Write the address the admin is served at, e.g. 'https://attendance.example.org', or None.",
                id="attendance_push.E015",
            )
        )
    errors.extend(project_requirements())
    errors.extend(_check_targets(raw.get("TARGETS", DEFAULTS["TARGETS"])))
    return errors


def _check_times(raw: dict[str, Any]) -> Iterator[checks.CheckMessage]:
    parsed = {}
    for key in ("TIME", "CHECK_IN", "CHECK_OUT"):
        value = raw.get(key, DEFAULTS[key])
        try:
            parsed[key] = parse_time(value)
        except ValueError:
            yield checks.Error(
                f"{SETTING}['{key}'] {value!r} is not a time.",
                hint="Write it as 'HH:MM', e.g. '21:00'.",
                id="attendance_push.E002",
            )
    if "CHECK_IN" in parsed and "CHECK_OUT" in parsed and parsed["CHECK_IN"] > parsed["CHECK_OUT"]:
        yield checks.Error(
            f"{SETTING}['CHECK_IN'] ({parsed['CHECK_IN']:%H:%M}) is later than "
            f"CHECK_OUT ({parsed['CHECK_OUT']:%H:%M}).",
            hint="The default record would leave before it arrives; swap them.",
            id="attendance_push.E012",
        )


def _check_targets(targets: Any) -> Iterator[checks.CheckMessage]:
    if not isinstance(targets, list | tuple):
        yield checks.Error(
            f"{SETTING}['TARGETS'] must be a list of dicts.",
            hint="See the README's settings reference.",
            id="attendance_push.E004",
        )
        return
    if not targets:
        yield checks.Warning(
            f"{SETTING}['TARGETS'] is empty: the push has nothing to do.",
            hint="Name at least one attendance model, e.g. "
            "{'attendance': 'school.StudentAttendance', 'person_field': 'student'}.",
            id="attendance_push.W001",
        )
    for index, raw in enumerate(targets):
        where = f"{SETTING}['TARGETS'][{index}]"
        if not isinstance(raw, dict):
            yield checks.Error(
                f"{where} must be a dict.", hint="See the README's settings reference.", id="attendance_push.E004"
            )
            continue
        missing = [key for key in TARGET_REQUIRED if key not in raw]
        unknown = sorted(map(str, set(raw) - TARGET_KEYS))
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(missing)}")
            if unknown:
                problems.append(f"unknown {', '.join(unknown)}")
            yield checks.Error(
                f"{where}: {'; '.join(problems)}.",
                hint=f"Valid keys are {', '.join(sorted(TARGET_KEYS))}.",
                id="attendance_push.E004",
            )
            continue
        yield from check_target(where, Target.from_setting(raw))


def check_calendar(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Validate the working calendar (WEEKLY_OFF, HOLIDAYS and each target's own); warn when there is none."""
    raw = getattr(settings, SETTING, {})
    if not isinstance(raw, dict):
        return []  # check_settings reports it (attendance_push.E001).
    errors: list[checks.CheckMessage] = []
    errors.extend(_check_weekly_off(f"{SETTING}['WEEKLY_OFF']", raw.get("WEEKLY_OFF", [])))
    errors.extend(_check_holidays(f"{SETTING}['HOLIDAYS']", raw.get("HOLIDAYS")))
    targets = raw.get("TARGETS", [])
    targets = [item for item in targets if isinstance(item, dict)] if isinstance(targets, list | tuple) else []
    for index, item in enumerate(targets):
        where = f"{SETTING}['TARGETS'][{index}]"
        if "weekly_off" in item:
            errors.extend(_check_weekly_off(f"{where}['weekly_off']", item["weekly_off"]))
        if "holidays" in item:
            errors.extend(_check_holidays(f"{where}['holidays']", item["holidays"]))
    configured = {"WEEKLY_OFF", "HOLIDAYS"} & set(raw) or any({"weekly_off", "holidays"} & set(t) for t in targets)
    if not configured:
        errors.append(
            checks.Warning(
                f"{SETTING} has no working calendar: every day, weekends included, gets records.",
                hint="Set WEEKLY_OFF (e.g. ['SAT']) and HOLIDAYS (e.g. {'country': 'NP'}); set 'WEEKLY_OFF': [] "
                "to say that every day is a working day.",
                id="attendance_push.W030",
            )
        )
    return errors


def _check_weekly_off(where: str, value: Any) -> Iterator[checks.CheckMessage]:
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        yield checks.Error(
            f"{where} must be a list of weekday names, not {value!r}.",
            hint=f"Use {', '.join(WEEKDAYS)}.",
            id="attendance_push.E030",
        )
        return
    unknown = [name for name in value if name not in WEEKDAYS]
    if unknown:
        yield checks.Error(
            f"{where} has unknown weekday name(s): {', '.join(map(repr, unknown))}.",
            hint=f"Valid names are {', '.join(WEEKDAYS)}, e.g. ['SAT'].",
            id="attendance_push.E030",
        )


def _check_holidays(where: str, value: Any) -> Iterator[checks.CheckMessage]:
    if value is None:
        return
    if not isinstance(value, dict) or "country" not in value or set(value) - set(HOLIDAY_KEYS):
        yield checks.Error(
            f"{where} must be None or a dict with 'country' (and optionally 'subdiv', 'categories'), not {value!r}.",
            hint="e.g. {'country': 'NP', 'subdiv': None, 'categories': None}.",
            id="attendance_push.E031",
        )
        return
    import holidays  # a dependency of the app (pyproject.toml)

    countries = holidays.list_supported_countries()
    country = value["country"]
    if country not in countries:
        yield checks.Error(
            f"{where}: {country!r} is not a country the holidays package knows.",
            hint=f"Valid country codes: {', '.join(sorted(countries))}.",
            id="attendance_push.E031",
        )
        return
    subdiv = value.get("subdiv")
    if subdiv is not None and subdiv not in countries[country]:
        known = ", ".join(countries[country]) or "none (leave 'subdiv' None)"
        yield checks.Error(
            f"{where}: {subdiv!r} is not a subdivision of {country}.",
            hint=f"Valid subdivisions of {country}: {known}.",
            id="attendance_push.E031",
        )
        return
    try:
        holiday_calendar(value, [2026])
    except (NotImplementedError, ValueError, TypeError) as exc:
        supported = ", ".join(holidays.country_holidays(country).supported_categories)
        yield checks.Error(
            f"{where}: {exc}", hint=f"Valid categories for {country}: {supported}.", id="attendance_push.E031"
        )
