"""The channel interface and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class TransientSendError(Exception):
    """The provider may accept the same message later (timeout, 5xx, 429): retry with backoff."""


class PermanentSendError(Exception):
    """The provider refused the message for good (bad number, 4xx): do not retry."""


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str
    duplicate: bool = False  # the provider already had this idempotency key


class Channel(Protocol):
    name: str

    def send(
        self, *, to: str, body: str, idempotency_key: str, subject: str = ""
    ) -> SendResult: ...


def get_channel(name: str) -> Channel:
    """The configured backend for ``name``: SMS from ``settings.SMS_BACKEND``, email through
    Django's email backend (``settings.EMAIL_BACKEND``)."""
    if name == "sms":
        return import_string(settings.SMS_BACKEND)()
    if name == "email":
        from scheduling.channels.email import DjangoEmailChannel

        return DjangoEmailChannel()
    raise ValueError(f"unknown channel {name!r}")
