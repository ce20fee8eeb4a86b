"""Calendar feeds: list/create/revoke for their managers, the ``.ics`` for calendar apps."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.scheduling import serializers as s
from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import NotFoundError
from scheduling import access, selectors
from scheduling.errors import SchedulingErrorCode as S
from scheduling.services.feeds import create_feed, hash_token, render_feed, revoke_feed


@extend_schema(tags=["feeds"])
class FeedListView(APIView):
    """Calendar feeds the caller manages; POST creates one and returns its secret URL once."""

    error_codes = {400: (S.FEED_OWNER_INVALID,), 404: ()}

    @extend_schema(responses=s.FeedSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(s.FeedSerializer(access.visible_feeds(request.user), many=True).data)

    @extend_schema(request=s.FeedInputSerializer, responses={201: s.FeedCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = s.FeedInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # who may create which feed is create_feed's rule (403 otherwise)
        feed, token = create_feed(by=request.user, patient=v["patient"], clinician=v["clinician"])
        body = dict(s.FeedSerializer(feed).data)
        body["url"] = request.build_absolute_uri(f"/api/v1/feeds/{token}.ics")
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["feeds"])
class FeedRevokeView(APIView):
    @extend_schema(request=None, responses=s.FeedSerializer)
    def post(self, request: Request, pk: int) -> Response:
        feed = access.access_feed(user=request.user, feed_id=pk)
        return Response(s.FeedSerializer(revoke_feed(feed=feed, by=request.user)).data)


@extend_schema(tags=["feeds"])
class FeedIcsView(APIView):
    """The feed itself, for calendar apps: the secret token is the only credential."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        auth=[],
        responses={
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="iCalendar"),
            404: OpenApiResponse(description="Unknown or revoked feed"),
        },
    )
    def get(self, request: Request, token: str) -> HttpResponse:
        feed = selectors.get_feed_by_token_hash(token_hash=hash_token(token))
        if feed is None:
            raise NotFoundError("Feed not found.")
        body = render_feed(feed=feed)
        record_event(
            actor=None,
            action=AuditAction.READ,
            object_type="scheduling.calendarfeed",
            object_id=feed.pk,
            patient_id=feed.patient_id,
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        return response
