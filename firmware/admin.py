from django.contrib import admin

from .models import DiagnosticsStatusReport, FirmwareStatusReport

admin.site.register(FirmwareStatusReport)
admin.site.register(DiagnosticsStatusReport)
