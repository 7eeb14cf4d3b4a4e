"""The project's URLs: the admin is the whole user interface."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("attendance-push/", include("attendance_push.urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
