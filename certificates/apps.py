from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "certificates"

    def ready(self):
        from . import handlers  # noqa: F401  registers this app's OCPP handlers and result handlers
