"""The coils an indication's clearance covers (issue 13, DOMAIN.md §1.1), backfilled from the
catalogue for versions already stored — a protocol in use must not drift from its YAML."""

import django.contrib.postgres.fields
from django.db import migrations, models


def backfill(apps, schema_editor):
    from modalities.catalogue import load_catalogue

    Indication = apps.get_model("modalities", "ProtocolIndication")
    for spec in load_catalogue():
        for ind in spec.indications:
            if ind.cleared_coils:
                Indication.objects.filter(
                    protocol__code=spec.code, protocol__version=spec.version, code=ind.code
                ).update(cleared_coils=[str(c) for c in ind.cleared_coils])


class Migration(migrations.Migration):
    dependencies = [("modalities", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="protocolindication",
            name="cleared_coils",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=20), blank=True, default=list, size=None
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
