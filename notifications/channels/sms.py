"""SMS backends (``settings.SMS_BACKEND``), one interface:

- ``ConsoleSmsBackend`` — development: prints the text, nothing leaves the machine.
- ``NullSmsBackend`` — benchmarks: accepts every message and does nothing (no I/O), so a
  benchmark measures our side of delivery only.
- ``LedgerSmsBackend`` — tests: a simulated provider that records each message in
  ``OutboundMessage`` on its *own* autocommit connection, idempotent by key. It behaves like a
  real provider: a message it accepted stays accepted even if our transaction rolls back or the
  worker is killed before recording the send, and a retry with the same key returns the first
  message (``duplicate=True``) instead of sending another.
- ``HttpSmsBackend`` — production: one real provider adapter (JSON over HTTPS with an
  ``Idempotency-Key`` header), configured by ``SMS_PROVIDER_API_URL`` / ``SMS_PROVIDER_API_KEY``.
  Never called in tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

from django.conf import settings
from django.db import connections
from django.utils import timezone

from notifications.channels.base import PermanentSendError, SendResult, TransientSendError


class ConsoleSmsBackend:
    name = "sms"

    def send(self, *, to: str, body: str, idempotency_key: str, subject: str = "") -> SendResult:
        sys.stdout.write(f"[sms to {to} key={idempotency_key}] {body}\n")
        sys.stdout.flush()
        return SendResult(
            provider_id=f"console-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"
        )


class NullSmsBackend:
    name = "sms"

    def send(self, *, to: str, body: str, idempotency_key: str, subject: str = "") -> SendResult:
        return SendResult(provider_id=f"null-{idempotency_key}"[:120])


def _ledger_connection():
    """A private autocommit psycopg connection to the same database (the "provider's" side).

    One per send, closed after it: the provider must not share our transaction, and a
    connection left open would hold the test database."""
    import psycopg

    params = connections["default"].get_connection_params()
    params = {k: v for k, v in params.items() if k not in {"cursor_factory", "context"}}
    return psycopg.connect(**params, autocommit=True)


class LedgerSmsBackend:
    name = "sms"

    def send(self, *, to: str, body: str, idempotency_key: str, subject: str = "") -> SendResult:
        # A slow provider lets fault tests kill a worker mid-send: half the delay before the
        # provider records the message, half after (accepted, but we have not heard back).
        delay_s = int(os.environ.get("SMS_LEDGER_LATENCY_MS", "0") or 0) / 2000
        time.sleep(delay_s)
        provider_id = f"ledger-{uuid.uuid4().hex}"
        with _ledger_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO scheduling_outboundmessage"
                ' (idempotency_key, channel, "to", subject, body, provider_id, created_at)'
                " VALUES (%s, 'sms', %s, %s, %s, %s, %s)"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING provider_id",
                [idempotency_key, to, subject, body, provider_id, timezone.now()],
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    "SELECT provider_id FROM scheduling_outboundmessage WHERE idempotency_key = %s",
                    [idempotency_key],
                )
                result = SendResult(provider_id=cur.fetchone()[0], duplicate=True)
            else:
                result = SendResult(provider_id=row[0])
        time.sleep(delay_s)
        return result


class HttpSmsBackend:
    """POST ``{"to", "from", "body"}`` to ``SMS_PROVIDER_API_URL`` with a bearer key and an
    ``Idempotency-Key`` header; expects ``{"id": ...}``. 5xx/429/timeouts are transient."""

    name = "sms"
    timeout_s = 10

    def send(self, *, to: str, body: str, idempotency_key: str, subject: str = "") -> SendResult:
        url, key = settings.SMS_PROVIDER_API_URL, settings.SMS_PROVIDER_API_KEY
        if not url.startswith("https://") or not key:
            raise PermanentSendError("SMS provider is not configured (SMS_PROVIDER_API_URL/KEY)")
        payload = json.dumps({"to": to, "from": settings.SMS_FROM_NUMBER, "body": body}).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url,
            data=payload,
            method="POST",
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise TransientSendError(f"provider HTTP {exc.code}") from exc
            raise PermanentSendError(f"provider HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TransientSendError(str(exc)) from exc
        provider_id = str(data.get("id") or data.get("sid") or "")
        if not provider_id:
            raise TransientSendError("provider response carried no message id")
        return SendResult(provider_id=provider_id)
