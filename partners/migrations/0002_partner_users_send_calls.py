"""Partner users already created keep commanding their stations now that the API asks for
"Can add call" (ocpp.add_call) before sending Calls: they are granted it."""

from django.db import migrations


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    PartnerMember = apps.get_model("partners", "PartnerMember")
    members = list(PartnerMember.objects.values_list("user_id", flat=True))
    if not members:
        return  # a fresh database: post_migrate creates the permission, create_partner_user grants it
    content_type, _ = ContentType.objects.get_or_create(app_label="ocpp", model="call")
    permission, _ = Permission.objects.get_or_create(content_type=content_type, codename="add_call",
                                                     defaults={"name": "Can add call"})
    through = Permission.user_set.through
    held = set(through.objects.filter(permission=permission).values_list("user_id", flat=True))
    through.objects.bulk_create([through(user_id=user_id, permission_id=permission.pk)
                                 for user_id in members if user_id not in held])


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("ocpp", "0002_own_tables"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
