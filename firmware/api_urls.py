"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("firmware", api.FirmwareViewSet, basename="firmware")
router.register("firmware-updates", api.FirmwareUpdateViewSet, basename="firmware-update")
router.register("diagnostics", api.DiagnosticsViewSet, basename="diagnostics")

urlpatterns: list = [
    re_path(r"^stations/(?P<station_id>[^/]+)/diagnostics/$", api.StationDiagnosticsView.as_view(),
            name="station-diagnostics"),
    *router.urls,
]
