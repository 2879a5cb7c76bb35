from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "ocpi"
    verbose_name = "Roaming (OCPI 2.2.1)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from csms.nodeservices import on_node_start
        from csms.ocpp.preauth import register_preauthorizer

        from .pump import start_pump
        from .tokens.realtime import preauthorize, preauthorize_timeout

        on_node_start(start_pump)
        register_preauthorizer(preauthorize, timeout=preauthorize_timeout)
