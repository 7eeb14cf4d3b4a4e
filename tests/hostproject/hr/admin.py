from django.contrib import admin

from .models import DailyAttendance, Staff

admin.site.register(Staff)
admin.site.register(DailyAttendance)
