"""OCPP result handlers and hook receivers of this app (imported by AppConfig.ready)."""

from csms.ocpp.router import on_failure, on_result
from transactions.hooks import IdTagChanged, id_tag_changed

from . import services


@on_result("SendLocalList")
def send_local_list_result(call, response: dict) -> None:
    services.local_list_update_answer_apply(call=call, status=response["status"])


@on_failure("SendLocalList")
def send_local_list_failed(call) -> None:
    services.local_list_update_failed(call=call)


@on_result("GetLocalListVersion")
def get_local_list_version_result(call, response: dict) -> None:
    services.local_list_version_apply(call=call, list_version=response["listVersion"])


@on_failure("GetLocalListVersion")
def get_local_list_version_failed(call) -> None:
    services.local_list_version_failed(call=call)


# Every IdTag write goes through transactions.id_tags (API and admin alike), which emits this once.
@id_tag_changed.connect
def on_id_tag_changed(event: IdTagChanged) -> None:
    services.local_lists_mark_outdated_for_tag(id_tag=event.id_tag, deleted=event.deleted)
