"""Writes to id tags, the only ones: the API and the admin come here. Every change is announced (after
the write, in its transaction) so that the local authorization lists holding the tag can be marked
out of date.

idTags are case-insensitive (OCPP 1.6 IdToken is a CiString20Type): `ABCD01` and `abcd01` are one tag.
The stored spelling is kept for display; every comparison goes through `same_id_tag` or an `iexact`
lookup (docs/adr/0015-case-insensitive-id-tags.md).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import Upper

from csms.errors import Invalid

from .hooks import IdTagChanged, id_tag_changed
from .models import IdTag


def same_id_tag(a: str | None, b: str | None) -> bool:
    """Whether two idTags are the same tag (case-insensitively)."""
    return (a or "").upper() == (b or "").upper()


def id_tag_find(id_tag: str) -> IdTag | None:
    """The stored tag that `id_tag` spells, whatever its case."""
    return IdTag.objects.filter(id_tag__iexact=id_tag).first()


def id_tag_case_duplicates() -> dict[str, list[str]]:
    """Stored tags that differ only in case (a database from before idTags were case-insensitive):
    {upper-case key: spellings}."""
    keys = (IdTag.objects.annotate(key=Upper("id_tag")).values("key").annotate(n=Count("id"))
            .filter(n__gt=1).values_list("key", flat=True))
    return {key: sorted(IdTag.objects.filter(id_tag__iexact=key).values_list("id_tag", flat=True)) for key in keys}


def id_tag_validate_new(id_tag: str) -> None:
    """Refuse a new tag that exists already, in any case (Invalid naming the stored spelling)."""
    _refuse_case_duplicate(id_tag)


def _refuse_case_duplicate(id_tag: str) -> None:
    existing = IdTag.objects.filter(id_tag__iexact=id_tag).values_list("id_tag", flat=True).first()
    if existing is not None:
        reason = (f"id tag {existing} already exists" if existing == id_tag else
                  f"id tag {existing} already exists: idTags are case-insensitive, so {id_tag} is the same tag")
        raise Invalid(reason, details={"field": "id_tag"})


@transaction.atomic
def id_tag_create(*, id_tag: str, partner=None, **fields) -> IdTag:
    _refuse_case_duplicate(id_tag)
    try:
        with transaction.atomic():
            tag = IdTag.objects.create(id_tag=id_tag, partner=partner, **fields)
    except IntegrityError:  # created meanwhile by another request
        _refuse_case_duplicate(id_tag)
        raise
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
