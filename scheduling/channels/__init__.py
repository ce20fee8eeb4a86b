"""Outbound channels behind one interface (issue 5): ``get_channel("sms" | "email")``.

Every channel takes an ``idempotency_key`` (the reminder key): a retry of the same key must not
reach the recipient twice (docs/adr/0002-reminder-delivery.md).
"""

from scheduling.channels.base import (
    Channel,
    PermanentSendError,
    SendResult,
    TransientSendError,
    get_channel,
)

__all__ = ["Channel", "PermanentSendError", "SendResult", "TransientSendError", "get_channel"]
