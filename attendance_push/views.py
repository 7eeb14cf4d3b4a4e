"""The health URL for uptime monitors: public, read-only, no secrets."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .health import check_health


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """Answer 200 with the push's health as JSON, or 503 when a push is missing."""
    state = check_health()
    last = state.last_success
    return JsonResponse(
        {
            "healthy": not state.problems,
            "problems": state.problems,
            "last_pushed_day": f"{last.date:%Y-%m-%d}" if last else None,
            # "closed": why yesterday was closed for every target (nothing to push: not a problem), else [].
            # "undone": its push was undone after its push time (an administrator's decision: not a problem).
            "yesterday": {
                "day": f"{state.yesterday:%Y-%m-%d}",
                "pushed": state.yesterday_pushed,
                "undone": state.yesterday_undone_by is not None,
                "closed": list(state.yesterday_closed),
            },
            "next_push": state.next_run.isoformat() if state.next_run else None,
            # The daily push was due then and no worker has started it (null when it is not overdue).
            "overdue_since": state.overdue_since.isoformat() if state.overdue_since else None,
            # How many, not where: host names and process ids are no business of a public URL.
            "worker": {"running": bool(state.clusters), "clusters": len(state.clusters)},
        },
        status=503 if state.problems else 200,
    )
