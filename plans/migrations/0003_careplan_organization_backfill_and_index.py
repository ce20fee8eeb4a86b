"""Plans are scoped by their own organisation column (issue 17).

1. Backfill: every plan carries its patient's organisation (``create_plan`` always wrote it;
   this makes sure rows written any other way agree before the API trusts the column).
2. Index ``(organization, created_at DESC, id DESC)``: the plan list's scope and default
   ordering, so a keyset page is an index range scan whatever the organisation's size.
"""

from django.db import migrations, models

BACKFILL = """
UPDATE plans_careplan c
SET organization_id = p.organization_id
FROM plans_patient p
WHERE p.id = c.patient_id AND c.organization_id IS DISTINCT FROM p.organization_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0002_initial"),
    ]

    operations = [
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=True),
        migrations.AddIndex(
            model_name="careplan",
            index=models.Index(
                fields=["organization", "-created_at", "-id"], name="plan_org_created"
            ),
        ),
    ]
