"""Writes to id tags, the only ones: the API and the admin come here. Every change is announced (after
the write, in its transaction) so that the local authorization lists holding the tag can be marked
out of date."""

from __future__ import annotations

from django.db import transaction

from .models import IdTag
from .hooks import IdTagChanged, id_tag_changed


@transaction.atomic
def id_tag_create(*, id_tag: str, partner=None, **fields) -> IdTag:
    tag = IdTag.objects.create(id_tag=id_tag, partner=partner, **fields)
    id_tag_changed.emit(IdTagChanged(tag.id_tag, deleted=False))
    return tag


@transaction.atomic
def id_tag_update(*, id_tag: IdTag, **fields) -> IdTag:
    for name, value in fields.items():
        setattr(id_tag, name, value)
    id_tag.save()
    id_tag_changed.emit(IdTagChanged(id_tag.id_tag, deleted=False))
    return id_tag


@transaction.atomic
def id_tag_delete(*, id_tag: IdTag) -> None:
    value = id_tag.id_tag
    id_tag.delete()
    id_tag_changed.emit(IdTagChanged(value, deleted=True))
