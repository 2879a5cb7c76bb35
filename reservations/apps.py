from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self):
        from . import handlers  # noqa: F401  registers this app's OCPP result handlers and hook receivers
