"""The health URL for uptime monitors: codes for anyone, from a cached check; the words, names and counts for staff."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .health import (
    cached_public_report,
    check_health,
    database_report,
    database_unreachable,
    log_unreachable,
    staff_report,
)


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """Answer 200 with the push's health as JSON, or 503 when the next push will not happen or will fail, a push
    is missing, or the database cannot be reached."""
    try:
        report = staff_report(check_health()) if reads_the_history(request) else cached_public_report()
    except (OperationalError, InterfaceError) as exc:
        # The session, the user or a database cache: nothing could be read.
        if not database_unreachable(exc):
            raise
        log_unreachable("the health URL", exc)
        report = database_report()
    return JsonResponse(report, status=200 if report["healthy"] else 503)


def reads_the_history(request: HttpRequest) -> bool:
    """Return whether the request's user is staff who may read the push history (the full answer is theirs)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff and user.has_perm("attendance_push.view_pushrun"))
