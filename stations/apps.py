from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"

    def ready(self):
        from csms.ocpp import directory

        from . import handlers  # noqa: F401  registers this app's OCPP handlers
        from .directory import Stations

        directory.register(Stations())
