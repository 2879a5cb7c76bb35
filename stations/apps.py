from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"

    def ready(self):
        from csms.ocpp import directory, permissions

        from . import handlers  # noqa: F401  registers this app's OCPP handlers
        from . import rules  # noqa: F401  registers the checks of Calls to stations
        from .directory import Stations
        from .selectors import station_accessible

        directory.register(Stations())
        permissions.register_station_access(station_accessible)
