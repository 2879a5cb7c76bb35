"""The stations app's answers to the OCPP runtime's questions (csms/ocpp/directory.py)."""

from __future__ import annotations

from django.utils import timezone

from csms.ocpp.directory import Admission

from . import services
from .models import ChargeStation


class Stations:
    """Registered with the runtime in StationsConfig.ready()."""

    def admit(self, *, charge_box_id: str, authorization: str | None, client_certificate: str | None,
              client_certificate_verdict: str | None, tls: bool, remote_address: str) -> Admission:
        return services.station_admit(charge_box_id=charge_box_id, authorization=authorization,
                                      client_certificate=client_certificate,
                                      client_certificate_verdict=client_certificate_verdict, tls=tls,
                                      remote_address=remote_address)

    def connected(self, *, station_id: str, channel_name: str, node: str, subprotocol: str,
                  remote_address: str) -> str | None:
        return services.station_connect(station_id=station_id, channel_name=channel_name, node=node,
                                        subprotocol=subprotocol, remote_address=remote_address)

    def disconnected(self, *, station_id: str, channel_name: str) -> None:
        services.station_disconnect(station_id=station_id, channel_name=channel_name)

    def registration_status(self, station_id: str) -> str:
        return ChargeStation.objects.values_list("registration_status", flat=True).get(pk=station_id)

    def channel(self, station_id: str) -> str | None:
        return (
            ChargeStation.objects.filter(pk=station_id, online=True)
            .exclude(channel_name="")
            .values_list("channel_name", flat=True)
            .first()
        )

    def seen(self, station_ids: set[str]) -> None:
        ChargeStation.objects.filter(pk__in=station_ids).update(last_seen=timezone.now())

    def node_started(self, *, name: str) -> int:
        return services.node_start(name=name)

    def node_report(self, *, name: str, held: dict[str, str], as_of) -> int:
        return services.node_report(name=name, held=held, as_of=as_of)

    def dead_nodes_release(self, *, silent_for: float) -> list[str]:
        return services.stations_of_dead_nodes_mark_offline(silent_for=silent_for)

    def node_stopped(self, *, name: str) -> list[str]:
        return services.node_stop(name=name)

    def security_event(self, *, station_id: str, type: str, tech_info: str) -> None:
        services.security_event_record(station_id=station_id, event_type=type, timestamp=timezone.now(),
                                       tech_info=tech_info)
