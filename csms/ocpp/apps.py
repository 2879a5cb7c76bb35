from django.apps import AppConfig


class OcppConfig(AppConfig):
    """The OCPP runtime: sockets, frames, schemas, the handler registry and the calls out.

    Domain apps plug into it (handlers, result hooks, the station directory); it imports none of them.
    """

    name = "csms.ocpp"
    label = "ocpp"
    verbose_name = "OCPP runtime"
