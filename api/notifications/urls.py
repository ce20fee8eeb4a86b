"""Routes of this area, included under /api/v1/ by api/urls.py."""

from django.urls import path

from api.notifications.views import InboundSmsView

urlpatterns: list = [
    path("notifications/sms/inbound/", InboundSmsView.as_view(), name="sms-inbound"),
]
