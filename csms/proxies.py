"""What a TLS terminator in front of the node may tell it, and only a trusted one
(docs/adr/0121-tls-terminator.md).

The terminator (nginx, deploy/nginx/) says who the client is (X-Forwarded-For), whether it came over
TLS (X-Forwarded-Proto) and, for security profile 3, which client certificate it verified
(CSMS_CLIENT_CERT_HEADER). Anyone who can reach a node directly could send the same headers, so they
count only when the peer is one of CSMS_TRUSTED_PROXIES; from anyone else they are removed before
Django or the OCPP consumer sees the request. This ASGI middleware replaces Daphne's
`--proxy-headers`, which believes them from everyone.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

FORWARDED_FOR = b"x-forwarded-for"
FORWARDED_PROTO = b"x-forwarded-proto"
# The terminator's verdict on the client certificate, beside it: CSMS_CLIENT_CERT_HEADER + "-Verify".
VERIFY_SUFFIX = b"-verify"


class TrustedProxies:
    def __init__(self, entries: list[str]):
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


@functools.cache
def trusted_proxies(entries: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies(list(entries))


def proxied_scope(scope: dict) -> dict:
    """The scope as the client made the request: through a trusted proxy, its forwarded address and
    scheme; from anyone else, without the headers only a proxy may set."""
    proxies = trusted_proxies(tuple(settings.CSMS_TRUSTED_PROXIES))
    peer = (scope.get("client") or (None, None))[0]
    certificate = settings.CSMS_CLIENT_CERT_HEADER.lower().encode("latin-1")
    proxy_headers = {FORWARDED_FOR, FORWARDED_PROTO, certificate, certificate + VERIFY_SUFFIX}
    headers = scope.get("headers") or []
    if not proxies.trusts(peer):
        if any(name in proxy_headers for name, _ in headers):
            return {**scope, "headers": [(name, value) for name, value in headers if name not in proxy_headers]}
        return scope
    forwarded = ",".join(value.decode("latin-1") for name, value in headers if name == FORWARDED_FOR)
    client = peer
    # The client is the right-most address that is not itself one of our proxies.
    for hop in reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()]):
        client = hop
        if not proxies.trusts(hop):
            break
    protos = [value.decode("latin-1").strip().lower() for name, value in headers if name == FORWARDED_PROTO]
    changed = dict(scope)
    if client != peer:
        changed["client"] = [client, 0]
    if protos and protos[-1] in ("https", "http"):
        secure = protos[-1] == "https"
        changed["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" else protos[-1]
    return changed


class ProxyHeadersMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            scope = proxied_scope(scope)
        return await self.app(scope, receive, send)


def over_tls(scope: dict) -> bool:
    """Whether the client reached us over TLS (directly, or through a trusted terminator)."""
    return scope.get("scheme") in ("https", "wss")
