"""URLs with the push history on a second, custom admin site next to the default one."""

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.urls import path

from attendance_push.admin import PushRunAdmin
from attendance_push.models import PushRun


class OfficeSite(AdminSite):
    site_header = "School office"


office_site = OfficeSite(name="office")
office_site.register(PushRun, PushRunAdmin)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("office/", office_site.urls),
]
