"""ASGI entry point: Django over HTTP, OCPP-J over WebSocket at /ocpp/{chargeBoxId}."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from csms.ocpp.consumer import OCPPConsumer, RefuseConsumer  # noqa: E402
from csms.proxies import ProxyHeadersMiddleware  # noqa: E402

websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<charge_box_id>[^/]+)$", OCPPConsumer.as_asgi()),
    # URLRouter answers 500 for a path no route matches: refuse everything else with 404.
    re_path(r"", RefuseConsumer.as_asgi()),
]

# Forwarded addresses, scheme and client certificates count only from CSMS_TRUSTED_PROXIES.
application = ProxyHeadersMiddleware(
    ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)}))
