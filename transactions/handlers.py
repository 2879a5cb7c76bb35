"""Station-initiated Calls about authorization, transactions and metering: one handler per action.
Each reads the payload (names, dateTimes, OCPP's defaults) and calls a service with values."""

from csms.ocpp.router import CallContext, handles
from csms.ocpp.schemas import parse_datetime

from . import services
from .services import ENERGY_REGISTER, SampledValue


def samples_of(meter_values: list[dict]) -> list[SampledValue]:
    """The sampled values of OCPP MeterValue objects, each with the time of its meterValue."""
    samples = []
    for meter_value in meter_values:
        timestamp = parse_datetime(meter_value["timestamp"])
        for sample in meter_value["sampledValue"]:
            get = sample.get
            samples.append(SampledValue(
                timestamp=timestamp, value=sample["value"], measurand=get("measurand", ENERGY_REGISTER),
                phase=get("phase", ""), unit=get("unit", "Wh"), context=get("context", "Sample.Periodic"),
                location=get("location", "Outlet"), format=get("format", "Raw"),
            ))
    return samples


@handles("Authorize")
def authorize(ctx: CallContext, payload: dict) -> dict:
    return {"idTagInfo": services.id_tag_info(id_tag=payload["idTag"])}


@handles("StartTransaction")
def start_transaction(ctx: CallContext, payload: dict) -> dict:
    tx, info = services.transaction_start(
        station_id=ctx.station_id,
        connector_id=payload["connectorId"],
        id_tag=payload["idTag"],
        meter_start=payload["meterStart"],
        timestamp=parse_datetime(payload["timestamp"]),
        reservation_id=payload.get("reservationId"),
    )
    return {"transactionId": tx.pk, "idTagInfo": info}


@handles("StopTransaction")
def stop_transaction(ctx: CallContext, payload: dict) -> dict:
    data = payload.get("transactionData")
    info = services.transaction_stop(
        station_id=ctx.station_id,
        transaction_id=payload["transactionId"],
        meter_stop=payload["meterStop"],
        timestamp=parse_datetime(payload["timestamp"]),
        reason=payload.get("reason"),
        id_tag=payload.get("idTag", ""),
        samples=samples_of(data) if data else (),
        reported_transaction_data=data,
    )
    return {"idTagInfo": info} if info else {}


@handles("MeterValues")
def meter_values(ctx: CallContext, payload: dict) -> dict:
    services.meter_values_store(
        station_id=ctx.station_id,
        connector_id=payload["connectorId"],
        transaction_id=payload.get("transactionId"),
        samples=samples_of(payload["meterValue"]),
    )
    return {}
