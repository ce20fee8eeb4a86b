"""The channel interface and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
