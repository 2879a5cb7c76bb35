from django.apps import AppConfig


class TariffsConfig(AppConfig):
    name = "tariffs"
    verbose_name = "Tariffs and costs"

    def ready(self):
        from . import receivers  # noqa: F401  pins tariffs at StartTransaction, prices sessions at StopTransaction
