from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from attendance_push.admin import PushedFilter

from .models import Employee, EmployeeAttendance, Leave, Student, StudentAttendance


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "enrolled_on", "left_on")
    list_filter = ("is_active",)
    search_fields = ("name",)


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "joined_on", "left_on")
    list_filter = ("is_active",)
    search_fields = ("name",)


@admin.register(Leave)
class LeaveAdmin(admin.ModelAdmin):
    list_display = ("employee", "first_day", "last_day", "approved")
    list_filter = ("approved", "first_day")
    date_hierarchy = "first_day"
    search_fields = ("employee__name",)
    autocomplete_fields = ("employee",)


class AttendanceAdmin(admin.ModelAdmin):
    """Shared configuration for the per-person attendance admins."""

    list_filter = (PushedFilter, "status", "date")
    date_hierarchy = "date"
    readonly_fields = ("created_by", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(StudentAttendance)
class StudentAttendanceAdmin(AttendanceAdmin):
    list_display = ("student", "date", "status", "time_in", "time_out", "created_by")
    list_select_related = ("student", "created_by")
    search_fields = ("student__name",)
    # A plain select would render every student on each page load.
    autocomplete_fields = ("student",)


@admin.register(EmployeeAttendance)
class EmployeeAttendanceAdmin(AttendanceAdmin):
    list_display = ("employee", "date", "status", "time_in", "time_out", "created_by")
    list_select_related = ("employee", "created_by")
    search_fields = ("employee__name",)
    # A plain select would render every employee on each page load.
    autocomplete_fields = ("employee",)
