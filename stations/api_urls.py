"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("stations", api.StationViewSet, basename="station")
router.register("calls", api.CallViewSet, basename="call")

station_urls = [
    path("calls/", api.StationCallsView.as_view(), name="station-calls"),
    path("configuration/", api.StationConfigurationView.as_view(), name="station-configuration"),
    path("security-events/", api.StationSecurityEventsView.as_view(), name="station-security-events"),
    path("failed-authentications/", api.StationFailedAuthenticationsView.as_view(),
         name="station-failed-authentications"),
]

urlpatterns = [
    re_path(r"^stations/(?P<station_id>[^/]+)/", include(station_urls)),
    *router.urls,
]
