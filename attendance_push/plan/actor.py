"""Who is recorded as the creator of pushed records, and whether a push needs one."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import models

from .. import text
from ..conf import conf
from ..exceptions import NoActorError
from ..workdays import closed_day_reasons


def resolve_actor() -> models.Model:
    """Return the user recorded as the creator of pushed records, or raise NoActorError."""
    User = get_user_model()  # noqa: N806
    users = User._default_manager.filter(is_active=True)
    if conf.ACTOR:
        actor = users.filter(**{User.USERNAME_FIELD: conf.ACTOR}).first()
        if actor is None:
            raise NoActorError(text.no_such_actor(conf.ACTOR), actor=conf.ACTOR)
        return actor
    actor = users.filter(is_superuser=True).order_by("pk").first()
    if actor is None:
        raise NoActorError(text.no_superuser())
    return actor


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
