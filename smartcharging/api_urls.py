"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("charging-profiles", api.ChargingProfileViewSet, basename="charging-profile")

STATION = r"^stations/(?P<station_id>[^/]+)/"

urlpatterns: list = [
    re_path(STATION + r"charging-profiles/$", api.StationChargingProfilesView.as_view(),
            name="station-charging-profiles"),
    re_path(STATION + r"charging-profiles/clear/$", api.StationChargingProfilesClearView.as_view(),
            name="station-charging-profiles-clear"),
    re_path(STATION + r"charging-profiles/remote-start/$", api.StationRemoteStartView.as_view(),
            name="station-charging-profiles-remote-start"),
    re_path(STATION + r"charging-profiles/assignments/$", api.StationAssignmentsView.as_view(),
            name="station-charging-profile-assignments"),
    re_path(STATION + r"composite-schedule/$", api.StationCompositeScheduleView.as_view(),
            name="station-composite-schedule"),
    re_path(STATION + r"composite-schedule/reports/$", api.StationCompositeReportsView.as_view(),
            name="station-composite-schedule-reports"),
    *router.urls,
]
