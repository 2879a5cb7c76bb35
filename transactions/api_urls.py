"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("id-tags", api.IdTagViewSet, basename="id-tag")
router.register("transactions", api.TransactionViewSet, basename="transaction")

urlpatterns = router.urls
