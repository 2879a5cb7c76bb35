"""Station-initiated Calls about authorization, transactions and metering: one handler per action."""

from csms.ocpp.router import CallContext, handles

from . import services


@handles("Authorize")
def authorize(ctx: CallContext, payload: dict) -> dict:
    return {"idTagInfo": services.id_tag_info(id_tag=payload["idTag"])}


@handles("StartTransaction")
def start_transaction(ctx: CallContext, payload: dict) -> dict:
    tx, info = services.transaction_start(station_id=ctx.station_id, payload=payload)
    return {"transactionId": tx.pk, "idTagInfo": info}


@handles("StopTransaction")
def stop_transaction(ctx: CallContext, payload: dict) -> dict:
    info = services.transaction_stop(station_id=ctx.station_id, payload=payload)
    return {"idTagInfo": info} if info else {}


@handles("MeterValues")
def meter_values(ctx: CallContext, payload: dict) -> dict:
    services.meter_values_store(
        station_id=ctx.station_id,
        connector_id=payload["connectorId"],
        transaction_id=payload.get("transactionId"),
        meter_values=payload["meterValue"],
    )
    return {}
