from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "ocpi"
    verbose_name = "Roaming (OCPI 2.2.1)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from csms.nodeservices import on_node_start
        from csms.ocpp.preauth import register_preauthorizer

        # The receivers of the apps' hooks: each module follows what it publishes or answers.
        from .commands import receivers as _commands  # noqa: F401  CommandResults
        from .locations import receivers as _locations  # noqa: F401  Locations pushed as stations change
        from .pump import start_pump
        from .sessions import receivers as _sessions  # noqa: F401  Sessions and CDRs follow transactions
        from .tariffs import receivers as _tariffs  # noqa: F401  tariffs pushed as they change
        from .tokens.realtime import preauthorize, preauthorize_timeout

        on_node_start(start_pump)
        register_preauthorizer(preauthorize, timeout=preauthorize_timeout)
