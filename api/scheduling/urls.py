"""Routes of this area, included under /api/v1/ by api/urls.py."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from api.scheduling import views

router = SimpleRouter()
router.register("clinics", views.ClinicViewSet, basename="clinic")
router.register("resources", views.ResourceViewSet, basename="resource")
router.register("clinician-hours", views.ClinicianHoursViewSet, basename="clinician-hours")

urlpatterns = [
    path("clinics/<int:pk>/closures/", views.ClinicClosuresView.as_view(), name="clinic-closures"),
    path(
        "clinics/<int:pk>/generate-closures/",
        views.ClinicGenerateClosuresView.as_view(),
        name="clinic-generate-closures",
    ),
    path(
        "components/<int:pk>/schedule/",
        views.ComponentScheduleView.as_view(),
        name="component-schedule",
    ),
    path("sessions/", views.SessionListView.as_view(), name="session-list"),
    path("sessions/<int:pk>/", views.SessionDetailView.as_view(), name="session-detail"),
    path(
        "sessions/<int:pk>/reschedule/",
        views.SessionRescheduleView.as_view(),
        name="session-reschedule",
    ),
    path("sessions/<int:pk>/cancel/", views.SessionCancelView.as_view(), name="session-cancel"),
    path("sessions/<int:pk>/no-show/", views.SessionNoShowView.as_view(), name="session-no-show"),
    path(
        "sessions/<int:pk>/check-in/", views.SessionCheckInView.as_view(), name="session-check-in"
    ),
    path(
        "sessions/<int:pk>/complete/", views.SessionCompleteView.as_view(), name="session-complete"
    ),
    path("availability/", views.AvailabilityView.as_view(), name="availability"),
    path("feeds/", views.FeedListView.as_view(), name="feed-list"),
    path("feeds/<int:pk>/revoke/", views.FeedRevokeView.as_view(), name="feed-revoke"),
    re_path(
        r"^feeds/(?P<token>[A-Za-z0-9_-]{20,128})\.ics$",
        views.FeedIcsView.as_view(),
        name="feed-ics",
    ),
    *router.urls,
]
