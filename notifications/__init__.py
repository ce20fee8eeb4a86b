"""Patient and staff messages: channels, the provider ledger, the forbidden-term list, rendering.

The lowest app above ``backend`` (docs/adr/0012-notifications-app.md): it imports only ``backend``,
Django and third-party code, so modalities, plans and scheduling can all send through it.
"""
