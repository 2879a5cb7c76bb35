"""List id tags that differ only in case; with --enforce, add the case-insensitive unique constraint
once there are none (the migration leaves a plain index where it found some)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models
from django.db.models.functions import Upper

from transactions.id_tags import id_tag_case_duplicates
from transactions.models import ID_TAG_CASE_INSENSITIVE_UNIQUE, IdTag


class Command(BaseCommand):
    help = "Report id tags that differ only in case; --enforce makes the database refuse new ones."

    def add_arguments(self, parser):
        parser.add_argument("--enforce", action="store_true",
                            help="add the case-insensitive unique constraint (fails while duplicates remain)")

    def handle(self, *args, enforce=False, **options):
        duplicates = id_tag_case_duplicates()
        for spellings in duplicates.values():
            self.stdout.write(", ".join(spellings))
        if not enforce:
            self.stdout.write(f"{len(duplicates)} group(s) of id tags differing only in case.")
            return
        if duplicates:
            raise CommandError("resolve the duplicates above first (merge or delete them)")
        with connection.schema_editor() as editor:
            editor.execute(editor._delete_index_sql(IdTag, ID_TAG_CASE_INSENSITIVE_UNIQUE))
            editor.add_constraint(IdTag, models.UniqueConstraint(Upper("id_tag"), name=ID_TAG_CASE_INSENSITIVE_UNIQUE))
        self.stdout.write("idTags are now unique whatever their case, in the database too.")
