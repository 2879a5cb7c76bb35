"""ASGI entry point: Django over HTTP, OCPP-J over WebSocket at /ocpp/{chargeBoxId}, the operator
console's live updates at /ws/console/."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from csms.admin.live import ConsoleConsumer  # noqa: E402
from csms.ocpp.consumer import OCPPConsumer, RefuseConsumer  # noqa: E402
from csms.proxies import ProxyHeadersMiddleware  # noqa: E402

websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<charge_box_id>[^/]+)$", OCPPConsumer.as_asgi()),
    # The admin session (cookie) and a page of this site (Origin) open the console socket; the
    # station path does not pay for either.
    re_path(r"^ws/console/$", AllowedHostsOriginValidator(AuthMiddlewareStack(ConsoleConsumer.as_asgi()))),
    # URLRouter answers 500 for a path no route matches: refuse everything else with 404.
    re_path(r"", RefuseConsumer.as_asgi()),
]

# Forwarded addresses, scheme and client certificates count only from CSMS_TRUSTED_PROXIES.
application = ProxyHeadersMiddleware(
    ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)}))
