"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("webhooks", api.WebhookEndpointViewSet, basename="webhook")

urlpatterns = router.urls
