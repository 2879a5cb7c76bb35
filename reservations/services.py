"""Writes about reservations: ReserveNow and CancelReservation, and what the station's answers,
transactions, connector states and time do to a reservation (docs/adr/0020-reservations.md)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from csms.errors import Invalid
from csms.ocpp.calls import call_enqueue
from csms.ocpp.models import Call
from csms.ocpp.schemas import format_datetime
from partners.selectors import acting_user
from stations.models import ChargeStation, Connector, ConnectorStatus
from stations.rules import connector_validate
from stations.selectors import station_config_bool
from transactions.id_tags import same_id_tag
from transactions.models import IdTag, Transaction
from transactions.services import same_group

from .models import ACTIVE_STATUSES, ANSWER_STATUSES, Reservation, ReservationStatus

# Connector states in which a station ends the reservations it holds (OCPP 1.6 §5.13).
ENDING_CONNECTOR_STATES = (ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE)
# Connector states in which a connector cannot be reserved: in use (the station answers Occupied) or
# already reserved.
OCCUPIED_STATES = (ConnectorStatus.PREPARING, ConnectorStatus.CHARGING, ConnectorStatus.SUSPENDED_EV,
                   ConnectorStatus.SUSPENDED_EVSE, ConnectorStatus.FINISHING, ConnectorStatus.RESERVED)


# --- Asking the station ----------------------------------------------------------------------------


def reservation_validate(*, station: ChargeStation, connector_id: int, id_tag: str, expiry_date: datetime,
                         replacing: int | None = None) -> None:
    """Refuse, before anything is sent, what the station could only reject."""
    if connector_id < 0:
        raise Invalid("connector_id must be 0 (any connector) or a connector number")
    if connector_id == 0 and station_config_bool(station.pk, "ReserveConnectorZeroSupported") is not True:
        raise Invalid(
            f"station {station.pk} does not support reservations on connector 0: its configuration as last read "
            "does not say ReserveConnectorZeroSupported=true (read it with GetConfiguration)"
        )
    if not id_tag or len(id_tag) > 20:
        raise Invalid("id_tag must be 1 to 20 characters")
    if expiry_date <= timezone.now():
        raise Invalid("expiry_date must be in the future")
    connector_validate(station_id=station.pk, connector_id=connector_id, allow_zero=True, field="connector_id")
    if not IdTag.objects.filter(id_tag__iexact=id_tag).exists():  # idTags are case-insensitive (OCPP 1.6 §7.15)
        raise Invalid(f"id tag {id_tag} is unknown: register it first (a reservation for a tag the CSMS would "
                      "refuse is never used)", details={"field": "id_tag"})
    occupied_problem = reservation_occupied(station=station, connector_id=connector_id, replacing=replacing)
    if occupied_problem:
        raise Invalid(occupied_problem, details={"field": "connector_id"})


def reservation_occupied(*, station: ChargeStation, connector_id: int, replacing: int | None = None) -> str | None:
    """Why the connector cannot be reserved now (None: it can): another active reservation holds it, a
    transaction runs on it or its last reported state is in use."""
    where = f"connector {connector_id} of {station.pk}" if connector_id else f"station {station.pk} (connector 0)"
    held = Reservation.objects.filter(station=station, connector_id=connector_id, status__in=ACTIVE_STATUSES)
    if replacing is not None:
        held = held.exclude(pk=replacing)
    other = held.order_by("pk").first()
    if other is not None:
        return f"{where} is already reserved (reservation {other.pk}, {other.status}, for {other.id_tag})"
    if connector_id == 0:
        return None
    if Transaction.objects.filter(station=station, connector_id=connector_id, stopped_at__isnull=True).exists():
        return f"{where} is occupied: a transaction is running on it"
    status = Connector.objects.filter(station=station, connector_id=connector_id).values_list("status", flat=True).first()
    if status in OCCUPIED_STATES:
        return f"{where} is occupied: it last reported {status}"
    return None


@transaction.atomic
def reservation_create(
    *,
    station: ChargeStation,
    connector_id: int,
    id_tag: str,
    expiry_date: datetime,
    requested_by=None,
    source: str = "system",
    reservation_id: int | None = None,
) -> Reservation:
    """Send ReserveNow. With `reservation_id` of an active reservation of this station, the new
    reservation replaces it under the same id, as the station itself will (OCPP 1.6 §5.13)."""
    reservation_validate(station=station, connector_id=connector_id, id_tag=id_tag, expiry_date=expiry_date,
                         replacing=reservation_id)
    reservation = _replaced(station=station, reservation_id=reservation_id) if reservation_id is not None else Reservation()
    reservation.station = station
    reservation.connector_id = connector_id
    reservation.id_tag = id_tag
    reservation.parent_id_tag = IdTag.objects.filter(id_tag__iexact=id_tag).values_list("parent_id_tag", flat=True).first() or ""
    reservation.expiry_date = expiry_date
    reservation.status = ReservationStatus.REQUESTED
    reservation.detail = "replaces the earlier reservation with this id" if reservation.pk else ""
    reservation.ended_at = None
    reservation.cancel_call = None
    reservation.requested_by = acting_user(requested_by)
    reservation.source = source
    reservation.save()
    payload = {
        "connectorId": connector_id,
        "expiryDate": format_datetime(expiry_date),
        "idTag": id_tag,
        "reservationId": reservation.pk,
    }
    if reservation.parent_id_tag:
        payload["parentIdTag"] = reservation.parent_id_tag
    # Raises StationOffline or another domain error: the atomic block then takes the reservation back.
    reservation.reserve_call = call_enqueue(
        station=station, action="ReserveNow", payload=payload, requested_by=requested_by, source=source,
        context={"reservation_id": reservation.pk},
    )
    reservation.save(update_fields=["reserve_call", "updated_at"])
    return reservation


def _replaced(*, station: ChargeStation, reservation_id: int) -> Reservation:
    existing = Reservation.objects.select_for_update().filter(pk=reservation_id).first()
    if existing is None:
        raise Invalid(f"there is no reservation {reservation_id} to replace; leave id out to make a new one")
    if existing.station_id != station.pk:
        raise Invalid(f"reservation {reservation_id} belongs to station {existing.station_id}")
    if existing.status not in ACTIVE_STATUSES:
        raise Invalid(f"reservation {reservation_id} is {existing.status}; only an active one can be replaced")
    return existing


@transaction.atomic
def reservation_cancel(*, reservation: Reservation, requested_by=None, source: str = "system") -> Reservation:
    """Send CancelReservation; the reservation becomes `cancelled` when the station accepts."""
    reservation = Reservation.objects.select_for_update().get(pk=reservation.pk)
    if reservation.status not in ACTIVE_STATUSES:
        raise Invalid(f"reservation {reservation.pk} is {reservation.status}; there is nothing to cancel")
    reservation.cancel_call = call_enqueue(
        station=reservation.station_id, action="CancelReservation", payload={"reservationId": reservation.pk},
        requested_by=requested_by, source=source, context={"reservation_id": reservation.pk},
    )
    reservation.save(update_fields=["cancel_call", "updated_at"])
    return reservation


# --- What the station's answers mean ----------------------------------------------------------------


def _reservation_of(call: Call) -> Reservation | None:
    reservation_id = call.context.get("reservation_id", call.payload.get("reservationId"))
    return Reservation.objects.select_for_update().filter(pk=reservation_id, station_id=call.station_id).first()


def _end(reservation: Reservation, status: str, detail: str, **fields) -> None:
    reservation.status = status
    reservation.detail = detail[:300]
    reservation.ended_at = timezone.now()
    for name, value in fields.items():
        setattr(reservation, name, value)
    reservation.save(update_fields=["status", "detail", "ended_at", "updated_at", *fields])


def reservation_answer_apply(*, call: Call, status: str) -> None:
    """ReserveNow answered. Only the latest ReserveNow of a still-`requested` reservation counts: a
    late answer never revives one that has expired, was cancelled or was replaced."""
    reservation = _reservation_of(call)
    if reservation is None or reservation.reserve_call_id != call.pk or reservation.status != ReservationStatus.REQUESTED:
        return
    new_status = ANSWER_STATUSES[status]
    if new_status == ReservationStatus.ACCEPTED:
        if reservation.expiry_date <= timezone.now():
            _end(reservation, ReservationStatus.EXPIRED, "accepted by the station after its expiry date")
            return
        reservation.status = new_status
        reservation.save(update_fields=["status", "updated_at"])
        return
    _end(reservation, new_status, f"the station answered {status}")


def reservation_request_failed(*, call: Call) -> None:
    reservation = _reservation_of(call)
    if reservation is None or reservation.reserve_call_id != call.pk or reservation.status != ReservationStatus.REQUESTED:
        return
    _end(reservation, ReservationStatus.FAILED, f"ReserveNow got no answer: {call.error_code} {call.error_description}")


def reservation_cancel_answer_apply(*, call: Call, status: str) -> None:
    """CancelReservation answered (from this app or sent by hand through the calls API)."""
    reservation = _reservation_of(call)
    if reservation is None:
        return
    if status == "Accepted":
        if reservation.status in ACTIVE_STATUSES:
            _end(reservation, ReservationStatus.CANCELLED, "cancelled by the CSMS")
        return
    # Rejected: the station holds no such reservation. Its own end (use, expiry) is reported otherwise.
    reservation.detail = "CancelReservation rejected: the station holds no active reservation with this id"
    reservation.save(update_fields=["detail", "updated_at"])


def reservation_cancel_failed(*, call: Call) -> None:
    reservation = _reservation_of(call)
    if reservation is None or reservation.cancel_call_id != call.pk:
        return
    reservation.detail = f"CancelReservation got no answer: {call.error_code} {call.error_description}"[:300]
    reservation.save(update_fields=["detail", "updated_at"])


# --- What transactions, connector states and time do -----------------------------------------------


def reservation_use_by_transaction(*, transaction_obj, parent_id_tag: str = "") -> Reservation | None:
    """A StartTransaction ends the reservation it names, or else the active one of its tag (or the
    tag's group) on that connector or on connector 0 of the station."""
    tx = transaction_obj
    reservation = None
    if tx.reservation_id is not None:
        reservation = (
            Reservation.objects.select_for_update()
            .filter(pk=tx.reservation_id, station_id=tx.station_id)
            .exclude(status__in=[ReservationStatus.USED, ReservationStatus.CANCELLED])
            .first()
        )
    if reservation is None:
        reservation = _reservation_of_tag(tx, parent_id_tag)
    if reservation is None:
        return None
    _end(reservation, ReservationStatus.USED, f"used by transaction {tx.pk} on connector {tx.connector_id}", transaction=tx)
    return reservation


def _reservation_of_tag(tx, parent: str) -> Reservation | None:
    candidates = (
        Reservation.objects.select_for_update()
        .filter(station_id=tx.station_id, status__in=ACTIVE_STATUSES, connector_id__in=[tx.connector_id, 0])
        .order_by("-connector_id", "expiry_date", "pk")  # the connector's own reservation before connector 0's
    )
    for reservation in candidates:
        if same_group(tx.id_tag, reservation.id_tag) or (parent and same_id_tag(parent, reservation.parent_id_tag)):
            return reservation
    return None


def reservations_end_for_connector(*, station_id: str, connector_id: int, status: str) -> int:
    """A connector (0: the whole station) reported Faulted or Unavailable: the station has ended the
    accepted reservations it held there."""
    if status not in ENDING_CONNECTOR_STATES:
        return 0
    held = Reservation.objects.select_for_update().filter(station_id=station_id, status=ReservationStatus.ACCEPTED)
    if connector_id != 0:
        held = held.filter(connector_id=connector_id)
    ended = 0
    for reservation in held:
        _end(reservation, ReservationStatus.CANCELLED, f"connector {connector_id} reported {status}")
        ended += 1
    return ended


def reservations_expire(*, now: datetime | None = None) -> int:
    """Requested and accepted reservations past their expiry date end as `expired`."""
    now = now or timezone.now()
    return Reservation.objects.filter(Q(status__in=ACTIVE_STATUSES) & Q(expiry_date__lte=now)).update(
        status=ReservationStatus.EXPIRED, ended_at=now, updated_at=now, detail="expiry date reached"
    )
