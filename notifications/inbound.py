"""Inbound SMS: the opt-out keywords (CTIA handbook; FCC 24-24 revocation by any reasonable
means, DOMAIN.md §7.3) and the provider webhook signature. Pure: stdlib only."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import datetime
from typing import Literal

_STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
_START_WORDS = frozenset({"START", "UNSTOP", "YES"})
_HELP_WORDS = frozenset({"HELP", "INFO"})


def parse_inbound_keyword(body: str) -> Literal["stop", "start", "help"] | None:
    """Classify an inbound SMS.

    A message that is only a keyword (any case, spacing, punctuation) maps per CTIA: STOP,
    STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (+ REVOKE, OPT OUT) → stop; START, UNSTOP, YES → start;
    HELP, INFO → help. FCC 24-24 makes "stop, quit, end, revoke, opt out, cancel, unsubscribe" a
    revocation by any reasonable means, so a longer message containing one of them as a word is
    also 'stop' (erring towards honouring the opt-out; the caller should still show the message to
    staff — "cancel my visit" may also be an appointment request). START/HELP only standalone.
    """
    text = unicodedata.normalize("NFKC", body or "").upper()
    words = re.sub(r"[^A-Z]+", " ", text).split()
    if not words:
        return None
    joined = " ".join(words)
    if joined in _STOP_WORDS or joined == "OPT OUT" or joined == "OPT OUT ALL":
        return "stop"
    if joined in _START_WORDS:
        return "start"
    if joined in _HELP_WORDS:
        return "help"
    if any(w in _STOP_WORDS for w in words) or " OPT OUT " in f" {joined} ":
        return "stop"
    return None


def _signed_payload(body: bytes, timestamp: str) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign_webhook(secret: bytes, body: bytes, timestamp: str) -> str:
    """Hex HMAC-SHA256 over ``f"{timestamp}." + body`` (timestamp: Unix seconds as text)."""
    return hmac.new(secret, _signed_payload(body, timestamp), hashlib.sha256).hexdigest()


def verify_webhook_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: datetime,
    tolerance_s: int = 300,
) -> bool:
    """Constant-time check of ``signature`` (optionally prefixed 'sha256='), rejecting timestamps
    more than ``tolerance_s`` away from ``now`` (replay protection)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (DESIGN.md §4 promise 9)")
    if not secret or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False
    given = signature.strip().lower().removeprefix("sha256=")
    expected = sign_webhook(secret, body, timestamp)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


__all__ = ["parse_inbound_keyword", "sign_webhook", "verify_webhook_signature"]
