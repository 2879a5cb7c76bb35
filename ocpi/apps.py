from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "ocpi"
    verbose_name = "Roaming (OCPI 2.2.1)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from csms.nodeservices import on_node_start

        from .commands import receivers  # noqa: F401  (the CommandResult hook)
        from .pump import start_pump
        from .sessions import receivers  # noqa: F401  Sessions and CDRs follow transactions

        on_node_start(start_pump)
