"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from rest_framework.routers import SimpleRouter

from .api import ReservationViewSet

router = SimpleRouter(trailing_slash=True)
router.register("reservations", ReservationViewSet, basename="reservation")

urlpatterns = router.urls
