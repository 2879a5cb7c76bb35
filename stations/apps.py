from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"

    def ready(self):
        from csms.ocpp import directory

        from . import handlers  # noqa: F401  registers this app's OCPP handlers
        from . import rules  # noqa: F401  registers the checks of Calls to stations
        from .directory import Stations

        directory.register(Stations())
