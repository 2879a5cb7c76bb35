from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ocpi", "0003_admin"),
    ]

    operations = [
        migrations.AddField(
            model_name="ocpisession",
            name="last_pushed_cost",
            field=models.DecimalField(blank=True, decimal_places=4, help_text="total_cost incl. VAT as last pushed.",
                                      max_digits=14, null=True),
        ),
    ]
