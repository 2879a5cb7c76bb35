"""OCPP result handlers and signal receivers of this app (imported by AppConfig.ready)."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from csms.ocpp.router import on_failure, on_result
from transactions.models import IdTag
from transactions.signals import id_tag_changed

from . import services
from .models import LocalList


@on_result("SendLocalList")
def send_local_list_result(call, response: dict) -> None:
    services.local_list_update_answer_apply(call=call, response=response)


@on_failure("SendLocalList")
def send_local_list_failed(call) -> None:
    services.local_list_update_failed(call=call)


@on_result("GetLocalListVersion")
def get_local_list_version_result(call, response: dict) -> None:
    services.local_list_version_apply(call=call, response=response)


@on_failure("GetLocalListVersion")
def get_local_list_version_failed(call) -> None:
    services.local_list_version_failed(call=call)


@receiver(id_tag_changed, dispatch_uid="locallists.id_tag_changed")
def on_id_tag_changed(sender, id_tag: str, deleted: bool, **kwargs) -> None:
    services.local_lists_mark_outdated_for_tag(id_tag=id_tag, deleted=deleted)


# Tags edited in admin (or anywhere else) bypass the id tag services: follow the model as well.
@receiver(post_save, sender=IdTag, dispatch_uid="locallists.id_tag_saved")
def on_id_tag_saved(sender, instance: IdTag, **kwargs) -> None:
    services.local_lists_mark_outdated_for_tag(id_tag=instance.id_tag)


@receiver(post_delete, sender=IdTag, dispatch_uid="locallists.id_tag_deleted")
def on_id_tag_deleted(sender, instance: IdTag, **kwargs) -> None:
    services.local_lists_mark_outdated_for_tag(id_tag=instance.id_tag, deleted=True)


@receiver(m2m_changed, sender=LocalList.id_tags.through, dispatch_uid="locallists.selection_changed")
def on_selection_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    station_ids = (pk_set or []) if reverse else [instance.pk]
    for station_id in station_ids:
        services.local_list_mark_outdated(station_id=station_id)
