"""Patient-text mechanics in notifications: fixed replies, inbound keywords (CTIA; FCC 24-24) and
webhook signatures (DOMAIN.md §7.3). Pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications.inbound import parse_inbound_keyword, sign_webhook, verify_webhook_signature
from notifications.rendering import (
    HELP_TEXT_TEMPLATE,
    SMS_MAX_CHARS,
    START_CONFIRMATION,
    STOP_CONFIRMATION,
    render_help_text,
)


def test_fixed_reply_texts_fit_one_sms() -> None:
    assert len(STOP_CONFIRMATION) <= SMS_MAX_CHARS
    assert len(START_CONFIRMATION) <= SMS_MAX_CHARS
    assert len(HELP_TEXT_TEMPLATE) <= SMS_MAX_CHARS
    help_text = render_help_text(clinic_name="A" * 200, clinic_phone="555-555-0142")
    assert len(help_text) <= SMS_MAX_CHARS
    assert "555-555-0142" in help_text
    assert "STOP" in help_text


# ---------------------------------------------------------------- inbound keywords


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("  Stop.  ", "stop"),
        ("STOPALL", "stop"),
        ("unsubscribe!", "stop"),
        ("Cancel", "stop"),
        ("END", "stop"),
        ("quit", "stop"),
        ("opt-out", "stop"),
        ("Please stop texting me", "stop"),
        ("revoke", "stop"),
        ("START", "start"),
        ("unstop", "start"),
        ("Yes", "start"),
        ("HELP", "help"),
        ("info?", "help"),
        ("yes I'll be there", None),
        ("see you tomorrow", None),
        ("weekend works", None),
        ("", None),
        ("👍", None),
    ],
)
def test_parse_inbound_keyword(body: str, expected: str | None) -> None:
    assert parse_inbound_keyword(body) == expected


# ---------------------------------------------------------------- webhooks

SECRET = b"test-secret"
BODY = b'{"status":"delivered","id":"SM1"}'
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))


def test_webhook_signature_valid() -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    assert verify_webhook_signature(SECRET, BODY, TS, sig, now=NOW)
    assert verify_webhook_signature(SECRET, BODY, TS, f"sha256={sig.upper()}", now=NOW)


def test_webhook_signature_invalid() -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    assert not verify_webhook_signature(SECRET, BODY + b" ", TS, sig, now=NOW)
    assert not verify_webhook_signature(b"other", BODY, TS, sig, now=NOW)
    assert not verify_webhook_signature(SECRET, BODY, TS, "not-hex-é", now=NOW)
    assert not verify_webhook_signature(SECRET, BODY, "abc", sig, now=NOW)


def test_webhook_signature_stale_or_future_rejected() -> None:
    old_ts = str(int(NOW.timestamp()) - 301)
    future_ts = str(int(NOW.timestamp()) + 301)
    assert not verify_webhook_signature(
        SECRET, BODY, old_ts, sign_webhook(SECRET, BODY, old_ts), now=NOW
    )
    assert not verify_webhook_signature(
        SECRET, BODY, future_ts, sign_webhook(SECRET, BODY, future_ts), now=NOW
    )
    edge = str(int(NOW.timestamp()) - 300)
    assert verify_webhook_signature(SECRET, BODY, edge, sign_webhook(SECRET, BODY, edge), now=NOW)
