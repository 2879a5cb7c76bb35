from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from stations import api as stations_api
from transactions import api as transactions_api

from . import api

router = DefaultRouter(trailing_slash=True)
router.register("stations", stations_api.StationViewSet, basename="station")
router.register("calls", stations_api.CallViewSet, basename="call")
router.register("id-tags", transactions_api.IdTagViewSet, basename="id-tag")
router.register("transactions", transactions_api.TransactionViewSet, basename="transaction")

station_urls = [
    path("calls/", stations_api.StationCallsView.as_view(), name="station-calls"),
    path("configuration/", stations_api.StationConfigurationView.as_view(), name="station-configuration"),
    path("security-events/", stations_api.StationSecurityEventsView.as_view(), name="station-security-events"),
]

api_v1 = [
    re_path(r"^stations/(?P<station_id>[^/]+)/", include(station_urls)),
    path("", include("transactions.api_urls")),
    path("", include("reservations.api_urls")),
    path("", include("locallists.api_urls")),
    path("", include("smartcharging.api_urls")),
    path("", include("firmware.api_urls")),
    path("", include("certificates.api_urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/", api.json_not_found),
    path("", include("firmware.urls")),
    path("", include("stations.urls")),
]

handler404 = "csms.api.handler404"
handler500 = "csms.api.handler500"
