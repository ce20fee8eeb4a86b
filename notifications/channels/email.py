"""Email through Django's email backend (console in development, SMTP/provider in production).

The reminder key travels as the ``Message-ID`` local part and an ``Idempotency-Key`` header, so a
provider that de-duplicates (most transactional APIs do) drops a retried copy.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid

from notifications.channels.base import PermanentSendError, SendResult, TransientSendError


class DjangoEmailChannel:
    name = "email"

    def send(self, *, to: str, body: str, idempotency_key: str, subject: str = "") -> SendResult:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
        message_id = make_msgid(idstring=digest, domain=domain)
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={"Message-ID": message_id, "Idempotency-Key": digest},
        )
        try:
            sent = message.send(fail_silently=False)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise TransientSendError(str(exc)) from exc
        if sent != 1:
            raise PermanentSendError("email backend accepted no message")
        return SendResult(provider_id=message_id)
