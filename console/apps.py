from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator console across apps: the dashboard's figures and charts, and what makes pages
    live (hook receivers feeding csms.admin.live's publisher)."""

    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from celery.signals import worker_process_init

        from csms.admin import live as live_updates
        from csms.nodeservices import on_node_start

        from . import dashboard, live  # noqa: F401  (live: the hook receivers connect on import)

        live_updates.concern("fleet", permission="stations.view_chargestation")
        live_updates.concern("station", permission="stations.view_chargestation")
        live_updates.concern("transaction", permission="transactions.view_transaction")
        live_updates.concern("call", permission="ocpp.view_call")
        on_node_start(live_updates.start_publisher)
        worker_process_init.connect(live_updates.start_publisher_thread, weak=False)
        dashboard.register()
