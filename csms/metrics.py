"""What a node tells Prometheus (docs/adr/0140-operations.md). Labels stay bounded: an action, a
status, a code, a reason — never a chargeBoxId or an idTag.

Counters and histograms are incremented where things happen; gauges that describe the node's state
(stations held, queue depths) are read when Prometheus scrapes, by `NodeStateCollector`.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .ocpp.schemas import ALL_ACTIONS, STATION_ACTIONS

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

station_connections = Counter(
    "csms_station_connections", "Station handshakes by outcome (accepted, or refused and why).", ["outcome"])
station_disconnects = Counter(
    "csms_station_disconnects", "Station connections that ended, by reason.", ["reason"])
station_calls = Counter(
    "csms_station_calls", "Station Calls received, by action and outcome (answered, duplicate, call_error with "
    "its code).", ["action", "outcome", "code"])
station_call_seconds = Histogram(
    "csms_station_call_seconds", "From a station Call's arrival to its answer being sent, by action.", ["action"],
    buckets=LATENCY_BUCKETS)
csms_calls = Counter(
    "csms_csms_calls", "CSMS-initiated Calls finished on this node, by action and final status.", ["action", "status"])
csms_call_seconds = Histogram(
    "csms_csms_call_seconds", "Round trip of a CSMS-initiated Call (sent to answered), by action.", ["action"],
    buckets=LATENCY_BUCKETS)
database_errors = Counter(
    "csms_database_errors", "Database errors met by the station path and the node's jobs, by kind.", ["kind"])
channel_layer_errors = Counter(
    "csms_channel_layer_errors", "Failed hand-overs to (or reads from) the channel layer.")
deliveries = Counter(
    "csms_deliveries", "Outbound deliveries (webhooks, OCPI pushes, firmware jobs) by kind and outcome.",
    ["kind", "outcome"])
http_requests = Counter(
    "csms_http_requests", "HTTP requests answered, by area and status class.", ["area", "status"])
http_request_seconds = Histogram(
    "csms_http_request_seconds", "HTTP request duration, by area.", ["area"], buckets=LATENCY_BUCKETS)


def action_label(action: str) -> str:
    """An action as a label: one of OCPP's, or "unknown" (a station may send anything)."""
    return action if action in ALL_ACTIONS else "unknown"


def station_action_label(action: str) -> str:
    return action if action in STATION_ACTIONS else ("other" if action in ALL_ACTIONS else "unknown")


def delivery(kind: str, outcome: str) -> None:
    """Count one outbound delivery attempt: `kind` webhook | ocpi | firmware, `outcome` delivered | failed."""
    deliveries.labels(kind=kind, outcome=outcome).inc()


class NodeStateCollector:
    """Gauges read at scrape time from the runtime's own state."""

    def collect(self):
        from django.conf import settings

        from .ocpp import lifecycle
        from .ocpp.mailbox import mailbox
        from .ocpp.msglog import buffer
        from .ocpp.writer import db_outage, get_writer

        connected = GaugeMetricFamily("csms_stations_connected", "Stations whose socket this node holds.",
                                      labels=["node", "security_profile"])
        by_profile: dict[str, int] = {}
        for connection in list(mailbox.connections.values()):
            profile = str(getattr(connection, "security_profile", ""))
            by_profile[profile] = by_profile.get(profile, 0) + 1
        for profile, count in sorted(by_profile.items()):
            connected.add_metric([settings.CSMS_NODE_NAME, profile], count)
        yield connected

        writer = get_writer()
        yield GaugeMetricFamily("csms_write_queue_depth", "Station Calls waiting for the writer.", value=writer.depth)
        yield CounterMetricFamily("csms_write_groups", "Groups the writer committed.", value=writer.groups)
        yield CounterMetricFamily("csms_write_group_calls", "Station Calls the writer committed in groups.",
                                  value=writer.calls)
        yield GaugeMetricFamily("csms_message_log_buffered", "Message-log rows waiting to be written.",
                                value=buffer.depth)
        yield CounterMetricFamily("csms_message_log_dropped", "Message-log rows dropped by a full buffer.",
                                  value=buffer.dropped)
        yield CounterMetricFamily("csms_message_log_written", "Message-log rows written.", value=buffer.written)
        yield GaugeMetricFamily("csms_database_available", "1 while this node reaches the database.",
                                value=0 if db_outage.since is not None else 1)
        yield CounterMetricFamily("csms_database_outages", "Database outages this node went through.",
                                  value=db_outage.outages)
        yield GaugeMetricFamily("csms_channel_layer_available", "1 while this node reaches the channel layer.",
                                value=1 if mailbox.health.available else 0)
        yield CounterMetricFamily("csms_channel_layer_outages", "Channel-layer outages this node went through.",
                                  value=mailbox.health.outages)
        yield GaugeMetricFamily("csms_node_draining", "1 once the node was asked to stop (SIGTERM).",
                                value=1 if lifecycle.state.draining else 0)


_collector_registered = False


def register_node_collector() -> None:
    global _collector_registered
    if not _collector_registered:
        REGISTRY.register(NodeStateCollector())
        _collector_registered = True
