"""Flags on a patient without a plan (issue 13): ``Flag.patient`` (backfilled from the plan),
``Flag.plan`` nullable, and one open patient-level flag per (patient, code, key)."""

import django.db.models.deletion
from django.db import migrations, models


def backfill_patient(apps, schema_editor):
    Flag = apps.get_model("plans", "Flag")
    CarePlan = apps.get_model("plans", "CarePlan")
    Flag.objects.filter(patient__isnull=True).update(
        patient_id=models.Subquery(
            CarePlan.objects.filter(pk=models.OuterRef("plan_id")).values("patient_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [("plans", "0002_initial")]

    operations = [
        migrations.AddField(
            model_name="flag",
            name="patient",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flags",
                to="plans.patient",
            ),
        ),
        migrations.RunPython(backfill_patient, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="flag",
            name="patient",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flags",
                to="plans.patient",
            ),
        ),
        migrations.AlterField(
            model_name="flag",
            name="plan",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flags",
                to="plans.careplan",
            ),
        ),
        migrations.AddConstraint(
            model_name="flag",
            constraint=models.UniqueConstraint(
                condition=models.Q(("plan__isnull", True), ("status", "open")),
                fields=("patient", "code", "requirement_key"),
                name="one_open_patient_flag_per_gap",
            ),
        ),
    ]
