"""The channel backends behind one interface (issue 5). The HTTP adapter is exercised with a
stubbed ``urlopen``: no test talks to a real provider."""

from __future__ import annotations

import io
import json
import urllib.error
from unittest import mock

import pytest

from notifications.channels import PermanentSendError, TransientSendError, get_channel
from notifications.channels.sms import ConsoleSmsBackend, HttpSmsBackend

PROVIDER = {
    "SMS_PROVIDER_API_URL": "https://sms.example.com/v1/messages",
    "SMS_PROVIDER_API_KEY": "k",
}


def test_console_backend_prints_and_is_stable_per_key(capsys):
    first = ConsoleSmsBackend().send(to="+15555550100", body="hi", idempotency_key="k1")
    again = ConsoleSmsBackend().send(to="+15555550100", body="hi", idempotency_key="k1")
    assert first.provider_id == again.provider_id
    assert "key=k1" in capsys.readouterr().out


def test_configured_backends(settings):
    assert type(get_channel("sms")).__name__ == "LedgerSmsBackend"  # test settings
    assert get_channel("email").name == "email"
    with pytest.raises(ValueError, match="unknown channel"):
        get_channel("pager")


def test_http_backend_sends_the_idempotency_key(settings):
    for k, v in PROVIDER.items():
        setattr(settings, k, v)
    response = mock.MagicMock()
    response.__enter__.return_value.read.return_value = json.dumps({"id": "SM1"}).encode()
    with mock.patch("urllib.request.urlopen", return_value=response) as urlopen:
        result = HttpSmsBackend().send(to="+15555550100", body="hello", idempotency_key="rk-1")
    request = urlopen.call_args.args[0]
    assert result.provider_id == "SM1"
    assert request.get_header("Idempotency-key") == "rk-1"
    assert json.loads(request.data) == {
        "to": "+15555550100",
        "from": settings.SMS_FROM_NUMBER,
        "body": "hello",
    }


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (urllib.error.HTTPError("u", 503, "busy", {}, io.BytesIO()), TransientSendError),
        (urllib.error.HTTPError("u", 429, "slow down", {}, io.BytesIO()), TransientSendError),
        (urllib.error.HTTPError("u", 400, "bad number", {}, io.BytesIO()), PermanentSendError),
        (urllib.error.URLError("timed out"), TransientSendError),
    ],
)
def test_http_backend_classifies_provider_errors(settings, error, expected):
    for k, v in PROVIDER.items():
        setattr(settings, k, v)
    with mock.patch("urllib.request.urlopen", side_effect=error), pytest.raises(expected):
        HttpSmsBackend().send(to="+15555550100", body="hello", idempotency_key="rk-1")


def test_http_backend_refuses_to_run_unconfigured(settings):
    settings.SMS_PROVIDER_API_URL = ""
    with pytest.raises(PermanentSendError):
        HttpSmsBackend().send(to="+15555550100", body="hello", idempotency_key="rk-1")
