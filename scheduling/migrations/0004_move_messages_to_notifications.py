"""SmsOptOut, OutboundMessage and InboundMessage now belong to notifications: state only.

The tables stay (notifications' models keep their names in ``db_table``); see
``notifications/migrations/0001_initial.py`` and docs/adr/0012-notifications-app.md.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0003_reminder_announced_sessions"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SmsOptOut"),
                migrations.DeleteModel(name="OutboundMessage"),
                migrations.DeleteModel(name="InboundMessage"),
            ],
            database_operations=[],
        ),
    ]
