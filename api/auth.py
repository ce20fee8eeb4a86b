"""Token authentication endpoints: obtain (throttled) and revoke."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from api.requests import AuthenticatedRequest
from backend.audit.services import record_event


class TokenObtainView(APIView):
    """Exchange username + password for an API token (one token per user)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer(
                "TokenOut",
                {"token": serializers.CharField(), "role": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        record_event(actor=user, action="create", object_type="authtoken.token", object_id="")
        return Response({"token": token.key, "role": user.role})


class TokenRevokeView(APIView):
    """Revoke the caller's token; the next request with it gets 401."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: AuthenticatedRequest) -> Response:
        Token.objects.filter(user=request.user).delete()
        record_event(actor=request.user, action="delete", object_type="authtoken.token")
        return Response(status=status.HTTP_204_NO_CONTENT)
