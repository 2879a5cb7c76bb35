"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("firmware", api.FirmwareViewSet, basename="firmware")
router.register("firmware-updates", api.FirmwareUpdateViewSet, basename="firmware-update")
router.register("diagnostics", api.DiagnosticsViewSet, basename="diagnostics")
router.register("firmware-rollouts", api.FirmwareRolloutViewSet, basename="firmware-rollout")

urlpatterns: list = [
    re_path(r"^stations/(?P<station_id>[^/]+)/diagnostics/$", api.StationDiagnosticsView.as_view(),
            name="station-diagnostics"),
    re_path(r"^stations/(?P<station_id>[^/]+)/firmware-versions/$", api.StationFirmwareVersionsView.as_view(),
            name="station-firmware-versions"),
    *router.urls,
]
