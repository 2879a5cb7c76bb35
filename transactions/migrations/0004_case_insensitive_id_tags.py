# idTags are case-insensitive (OCPP 1.6 CiString20Type). A database may already hold two tags that
# differ only in case: this migration does not fail on them. It reports them and gives the table a
# plain (non-unique) index of the same name instead, so lookups stay fast; the API and admin refuse
# new case-only duplicates, and `manage.py id_tags_case_duplicates --enforce` adds the unique
# constraint once the operator has resolved them (docs/adr/0015-case-insensitive-id-tags.md).

import sys

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Upper

NAME = "uniq_id_tag_case_insensitive"


def case_duplicates(IdTag) -> dict[str, list[str]]:
    keys = (IdTag.objects.annotate(key=Upper("id_tag")).values("key").annotate(n=Count("id"))
            .filter(n__gt=1).values_list("key", flat=True))
    return {key: sorted(IdTag.objects.filter(id_tag__iexact=key).values_list("id_tag", flat=True)) for key in keys}


def add_uniqueness(apps, schema_editor):
    IdTag = apps.get_model("transactions", "IdTag")
    duplicates = case_duplicates(IdTag)
    if not duplicates:
        schema_editor.add_constraint(IdTag, models.UniqueConstraint(Upper("id_tag"), name=NAME))
        return
    lines = [f"  {', '.join(spellings)}" for spellings in duplicates.values()]
    sys.stdout.write(
        f"\n  id tags differing only in case ({len(duplicates)} groups); idTags are case-insensitive, so each "
        "group is one tag to OCPP:\n" + "\n".join(lines) + "\n  Merge or delete them, then run "
        "`python manage.py id_tags_case_duplicates --enforce`. Until then stations are answered for the "
        "first spelling found.\n")
    schema_editor.add_index(IdTag, models.Index(Upper("id_tag"), name=NAME))


def remove_uniqueness(apps, schema_editor):
    IdTag = apps.get_model("transactions", "IdTag")
    schema_editor.execute(schema_editor._delete_index_sql(IdTag, NAME))


class Migration(migrations.Migration):

    dependencies = [
        ("transactions", "0003_tariffs_move_to_tariffs_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(model_name="idtag",
                                         constraint=models.UniqueConstraint(Upper("id_tag"), name=NAME)),
            ],
            database_operations=[migrations.RunPython(add_uniqueness, remove_uniqueness)],
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(Upper("id_tag"), "stopped_at", name="tx_id_tag_ci_open_idx"),
        ),
    ]
