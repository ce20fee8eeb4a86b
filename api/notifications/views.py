"""Inbound SMS webhook (issue 5): HMAC-signed by the provider, STOP/START/HELP handled at once."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import ErrorCode
from notifications.inbound import verify_webhook_signature
from scheduling.reminders import handle_inbound_sms

SIGNATURE_HEADER = "HTTP_X_SIGNATURE"
TIMESTAMP_HEADER = "HTTP_X_SIGNATURE_TIMESTAMP"


class InboundSmsSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=120)
    body = serializers.CharField(max_length=2000, allow_blank=True)

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword: E.164 sender as the provider posts it
        fields["from"] = serializers.RegexField(r"^\+[1-9][0-9]{6,14}$")
        return fields


class InboundSmsView(APIView):
    """``POST /api/v1/notifications/sms/inbound/`` — the provider's inbound-message webhook.

    Authenticated by ``X-Signature`` = hex HMAC-SHA256 of ``"<X-Signature-Timestamp>." + body``
    with ``SMS_WEBHOOK_SECRET`` (5-minute replay window); anything else is 403.
    """

    error_codes = {403: ()}  # bad or stale webhook signature

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=InboundSmsSerializer,
        responses={200: inline_serializer("InboundSmsOut", {"result": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        raw = request.body  # read before .data so the signature covers the exact bytes
        ok = verify_webhook_signature(
            settings.SMS_WEBHOOK_SECRET.encode(),
            raw,
            request.META.get(TIMESTAMP_HEADER, ""),
            request.META.get(SIGNATURE_HEADER, ""),
            now=timezone.now(),
        )
        if not ok:
            return Response(
                {
                    "code": ErrorCode.PERMISSION_DENIED,
                    "message": "Bad webhook signature.",
                    "fields": {},
                },
                status=status.HTTP_403_FORBIDDEN,
            )
        serializer = InboundSmsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = handle_inbound_sms(
            provider_id=data["id"], from_number=data["from"], body=data["body"]
        )
        return Response({"result": result})
