"""Outbound channels behind one interface (issue 5): ``get_channel("sms" | "email")``.

Every channel takes an ``idempotency_key`` (the reminder or ledger key): a retry of the same key
must not reach the recipient twice (docs/adr/0002-reminder-delivery.md).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.channels.base import (
    Channel,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from notifications.channels.email import DjangoEmailChannel


def get_channel(name: str) -> Channel:
    """The configured backend for ``name``: SMS from ``settings.SMS_BACKEND``, email through
    Django's email backend (``settings.EMAIL_BACKEND``)."""
    if name == "sms":
        return import_string(settings.SMS_BACKEND)()
    if name == "email":
        return DjangoEmailChannel()
    raise ValueError(f"unknown channel {name!r}")


__all__ = ["Channel", "PermanentSendError", "SendResult", "TransientSendError", "get_channel"]
