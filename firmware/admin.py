"""What stations reported about firmware updates and diagnostics/log uploads: shown, never edited."""

from django.contrib import admin

from stations.admin import GREEN, GREY, ORANGE, RED, ReadOnlyAdmin, StationFilter, badge, station_link

from .models import DiagnosticsStatusReport, FirmwareStatusReport

# Statuses of FirmwareStatusNotification, DiagnosticsStatusNotification and their Security Whitepaper
# counterparts, by what they mean for the operator.
SUCCESS = {"Installed", "Uploaded", "Idle", "SignatureVerified"}
FAILURE = {"DownloadFailed", "InstallationFailed", "UploadFailed", "InvalidSignature", "InstallVerificationFailed",
           "InvalidCertificate", "RevokedCertificate", "BadMessage", "PermissionDenied", "NotSupportedOperation"}


def report_badge(status: str):
    colour = GREEN if status in SUCCESS else RED if status in FAILURE else ORANGE if status else GREY
    return badge(status, colour)


class StatusReportAdmin(ReadOnlyAdmin):
    list_display_links = ["received_at"]
    date_hierarchy = "received_at"
    search_fields = ["=station__id"]

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, report):
        return station_link(report.station_id)

    @admin.display(description="status", ordering="status")
    def state(self, report):
        return report_badge(report.status)


@admin.register(FirmwareStatusReport)
class FirmwareStatusReportAdmin(StatusReportAdmin):
    list_display = ["received_at", "station_id_link", "state", "signed", "request_id"]
    list_filter = [StationFilter, "status", "signed"]


@admin.register(DiagnosticsStatusReport)
class DiagnosticsStatusReportAdmin(StatusReportAdmin):
    list_display = ["received_at", "station_id_link", "kind", "state", "request_id"]
    list_filter = [StationFilter, "kind", "status"]
