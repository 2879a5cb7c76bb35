"""Endpoints for load balancers, orchestrators and Prometheus: /healthz, /readyz, /metrics."""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from . import metrics

CHECK_TIMEOUT = 2.0
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="csms-ready")


@csrf_exempt
@require_GET
def healthz(request):
    """The process is alive and serving requests."""
    return JsonResponse({"status": "alive"})


def _database_answers() -> bool:
    connection = connections["default"]  # this check thread's own (a pooled one goes back afterwards)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1
    finally:
        connection.close()


def _channel_layer_answers() -> bool:
    if not settings.REDIS_URL:
        return True  # the in-memory layer lives in this process
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
    try:
        return bool(client.ping())
    finally:
        client.close()


def _check(probe) -> str:
    try:
        return "ok" if _checks.submit(probe).result(timeout=CHECK_TIMEOUT + 0.5) else "failing"
    except FutureTimeout:
        return "timeout"
    except Exception as exc:
        return f"failing: {type(exc).__name__}"


@csrf_exempt
@require_GET
def readyz(request):
    """Ready for traffic: the database and the channel layer answer, and the node is not draining."""
    from .ocpp.lifecycle import state

    checks = {"database": _check(_database_answers), "channel_layer": _check(_channel_layer_answers),
              "draining": "yes" if state.draining else "no"}
    ready = checks["database"] == "ok" and checks["channel_layer"] == "ok" and not state.draining
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


def _scraper_allowed(request) -> bool:
    if settings.CSMS_METRICS_TOKEN:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        return header == f"Bearer {settings.CSMS_METRICS_TOKEN}"
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.is_loopback:
        return True
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.CSMS_METRICS_ALLOWED_ADDRESSES)


@csrf_exempt
@require_GET
def metrics_view(request):
    if not _scraper_allowed(request):
        return JsonResponse({"detail": "not allowed to scrape: send the metrics token, or scrape from an allowed "
                                       "address"}, status=403)
    metrics.register_node_collector()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def _area(path: str) -> str:
    for prefix, area in (("/api/", "api"), ("/admin/", "admin"), ("/ocpi/", "ocpi"), ("/metrics", "metrics"),
                         ("/healthz", "health"), ("/readyz", "health")):
        if path.startswith(prefix):
            return area
    return "other"


class HttpMetricsMiddleware:
    """Requests by area (api, admin, ...) and status class: bounded labels, never a URL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        area = _area(request.path)
        metrics.http_requests.labels(area=area, status=f"{response.status_code // 100}xx").inc()
        metrics.http_request_seconds.labels(area=area).observe(time.perf_counter() - started)
        return response
