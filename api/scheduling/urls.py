"""Routes of this area, included under /api/v1/ by api/urls.py."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from api.scheduling.views import clinics, feeds, sessions

router = SimpleRouter()
router.register("clinics", clinics.ClinicViewSet, basename="clinic")
router.register("resources", clinics.ResourceViewSet, basename="resource")
router.register("clinician-hours", clinics.ClinicianHoursViewSet, basename="clinician-hours")

urlpatterns = [
    path(
        "clinics/<int:pk>/closures/", clinics.ClinicClosuresView.as_view(), name="clinic-closures"
    ),
    path(
        "clinics/<int:pk>/generate-closures/",
        clinics.ClinicGenerateClosuresView.as_view(),
        name="clinic-generate-closures",
    ),
    path(
        "components/<int:pk>/schedule/",
        sessions.ComponentScheduleView.as_view(),
        name="component-schedule",
    ),
    path("sessions/", sessions.SessionListView.as_view(), name="session-list"),
    path("sessions/<int:pk>/", sessions.SessionDetailView.as_view(), name="session-detail"),
    path(
        "sessions/<int:pk>/reschedule/",
        sessions.SessionRescheduleView.as_view(),
        name="session-reschedule",
    ),
    path("sessions/<int:pk>/cancel/", sessions.SessionCancelView.as_view(), name="session-cancel"),
    path(
        "sessions/<int:pk>/no-show/", sessions.SessionNoShowView.as_view(), name="session-no-show"
    ),
    path(
        "sessions/<int:pk>/check-in/",
        sessions.SessionCheckInView.as_view(),
        name="session-check-in",
    ),
    path(
        "sessions/<int:pk>/complete/",
        sessions.SessionCompleteView.as_view(),
        name="session-complete",
    ),
    path("availability/", sessions.AvailabilityView.as_view(), name="availability"),
    path("feeds/", feeds.FeedListView.as_view(), name="feed-list"),
    path("feeds/<int:pk>/revoke/", feeds.FeedRevokeView.as_view(), name="feed-revoke"),
    re_path(
        r"^feeds/(?P<token>[A-Za-z0-9_-]{20,128})\.ics$",
        feeds.FeedIcsView.as_view(),
        name="feed-ics",
    ),
    *router.urls,
]
