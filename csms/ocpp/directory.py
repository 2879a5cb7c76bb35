"""The station directory: the one door through which the OCPP runtime reaches the station domain.

The runtime holds sockets; who may connect, what a connection means for a station's record and
where a station's socket is are questions of the station domain. The stations app answers them by
registering a `StationDirectory` in its `AppConfig.ready()`; the runtime never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# OCPP 1.6 RegistrationStatus: only an Accepted station may send anything but BootNotification.
ACCEPTED = "Accepted"


@dataclass(frozen=True)
class Admission:
    """The directory's verdict on a handshake: admitted (with its registration) or refused."""

    station_id: str | None = None
    registration_status: str = ""
    security_profile: int | None = None
    refuse_status: int | None = None  # HTTP status of the handshake refusal
    reason: str = ""


class StationDirectory(Protocol):
    def admit(self, *, charge_box_id: str, authorization: str | None, client_certificate: str | None,
              client_certificate_verdict: str | None, tls: bool, remote_address: str) -> Admission:
        """Whether this chargeBoxId may connect with these credentials (OCPP-J 3.2, security profiles):
        the Authorization header, the client certificate a trusted terminator verified (PEM, maybe
        URL-encoded) and its verdict (e.g. "FAILED:certificate has expired"), whether the connection
        came over TLS, and from where (failures are recorded)."""

    def connected(self, *, station_id: str, channel_name: str, node: str, subprotocol: str,
                  remote_address: str) -> str | None:
        """Record the new socket; return the channel of the connection it replaces, if any."""

    def disconnected(self, *, station_id: str, channel_name: str) -> None:
        """The socket on `channel_name` closed (a newer connection may already hold the station)."""

    def registration_status(self, station_id: str) -> str:
        """The station's registration as stored now (an operator may have changed it)."""

    def channel(self, station_id: str) -> str | None:
        """The channel name of the consumer holding the station's socket; None when it is offline."""

    def seen(self, station_ids: set[str]) -> None:
        """These stations sent frames just now."""

    def node_started(self, *, name: str) -> int:
        """A node (re)starts holding no sockets; returns how many stations it was said to hold."""

    def node_report(self, *, name: str, held: dict[str, str], as_of) -> int:
        """A node is alive and holds these sockets ({station_id: address}) as of `as_of`: stations it
        holds are online on it, stations it no longer holds are not. Returns how many were corrected."""

    def dead_nodes_release(self, *, silent_for: float) -> list[str]:
        """Stations held by nodes silent for `silent_for` seconds go offline; returns their ids."""

    def node_stopped(self, *, name: str) -> list[str]:
        """A node stopped: whatever it held is offline; returns the ids of the stations released."""

    def security_event(self, *, station_id: str, type: str, tech_info: str) -> None:
        """Something the CSMS saw a station do that a security team must know (an oversized frame)."""


_directory: StationDirectory | None = None


def register(directory: StationDirectory) -> None:
    global _directory
    _directory = directory


def get() -> StationDirectory:
    if _directory is None:
        raise RuntimeError("no station directory registered: is the stations app installed?")
    return _directory
