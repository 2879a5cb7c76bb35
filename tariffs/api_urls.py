"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("tariffs", api.TariffViewSet, basename="tariff")

urlpatterns = router.urls
