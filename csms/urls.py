"""Every URL of a node. Apps contribute their own API routes (`<app>.api_urls`) and pages."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import ops
from .api.errors import json_not_found

API_APPS = ["stations", "transactions", "reservations", "locallists", "smartcharging", "firmware", "certificates",
            "tariffs", "webhooks"]

api_v1 = [path("", include(f"{app}.api_urls")) for app in API_APPS]

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/", json_not_found),
    path("ocpi/", include("ocpi.urls")),
    path("", include("firmware.urls")),
    path("", include("stations.urls")),
]

handler404 = "csms.api.errors.handler404"
handler500 = "csms.api.errors.handler500"
