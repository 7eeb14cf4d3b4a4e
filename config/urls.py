"""The project's URLs: the admin is the whole user interface."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("attendance-push/", include("attendance_push.urls")),
    # The admin's English / नेपाली switch (templates/admin/language_switch.html) posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
