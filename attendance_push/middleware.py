"""Answer a short 503 when the database cannot be reached, on the admin's pages and the health URL.

Without it, a stopped database server turns every page into Django's "Server Error (500)". Add it to
MIDDLEWARE (anywhere: it only handles exceptions):

    "attendance_push.middleware.DatabaseUnreachableMiddleware",
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .health import database_report, database_unreachable, log_unreachable

# How long a browser or a monitor is asked to wait before it tries again.
RETRY_AFTER_SECONDS = 60


class DatabaseUnreachableMiddleware:
    """Turn a database that does not answer into a 503 on the admin (any app's pages) and the health URL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        match = getattr(request, "resolver_match", None)
        if match is None:
            return None
        health = "attendance_push" in match.app_names
        if not (health or "admin" in match.app_names) or not database_unreachable(exception):
            return None
        log_unreachable(request.path, exception)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if health:
            response: HttpResponse = JsonResponse(database_report(), status=503, headers=headers)
        else:
            # No request in the context: the admin's own templates would ask the database for the user.
            response = HttpResponse(
                render_to_string("attendance_push/database_unreachable.html"), status=503, headers=headers
            )
        response["Cache-Control"] = "no-store"
        return response
