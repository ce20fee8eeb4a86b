"""The ledger, inbound and opt-out tables move from scheduling to notifications: state only.

The tables keep their names (``db_table``), so no row is copied and no table is renamed
(docs/adr/0012-notifications-app.md). On a fresh database ``scheduling.0002`` and ``0001`` create
them; this migration only records the models in the notifications state, and scheduling's
``0004`` drops them from the scheduling state. The content types follow the models so that
permissions granted on them stay granted.
"""

from django.db import migrations, models

MOVED = ("smsoptout", "outboundmessage", "inboundmessage")


def move_content_types(apps, schema_editor, *, source="scheduling", target="notifications"):
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if content_type.objects.using(db).filter(app_label=target, model=model).exists():
            continue
        content_type.objects.using(db).filter(app_label=source, model=model).update(
            app_label=target
        )


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="notifications", target="scheduling")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("scheduling", "0003_reminder_announced_sessions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SmsOptOut",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("phone", models.CharField(max_length=20, unique=True)),
                        ("opted_out_at", models.DateTimeField()),
                        ("confirmation_sent_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "scheduling_smsoptout"},
                ),
                migrations.CreateModel(
                    name="OutboundMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("idempotency_key", models.CharField(max_length=200, unique=True)),
                        ("channel", models.CharField(max_length=10)),
                        ("to", models.CharField(max_length=254)),
                        ("subject", models.CharField(blank=True, max_length=200)),
                        ("body", models.TextField()),
                        ("provider_id", models.CharField(max_length=120)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "scheduling_outboundmessage",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="InboundMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("provider_id", models.CharField(max_length=120, unique=True)),
                        ("from_number", models.CharField(max_length=20)),
                        ("body", models.TextField()),
                        ("keyword", models.CharField(blank=True, max_length=10)),
                        ("received_at", models.DateTimeField()),
                    ],
                    options={"db_table": "scheduling_inboundmessage"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
