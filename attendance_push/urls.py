"""URLs outside the admin: `path("attendance-push/", include("attendance_push.urls"))`."""

from django.urls import path

from . import views

app_name = "attendance_push"
urlpatterns = [
    path("health/", views.health, name="health"),
]
