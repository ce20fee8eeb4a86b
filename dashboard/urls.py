from django.urls import path

from dashboard import reports, views

app_name = "dashboard"

urlpatterns = [
    path("login/", views.DashboardLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("keepalive/", views.keepalive, name="keepalive"),
    path("", views.worklist, name="worklist"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan"),
    path("plans/<int:plan_id>/fhir/", views.plan_fhir_export, name="plan-fhir"),
    path("flags/<int:flag_id>/dismiss/", views.flag_dismiss, name="flag-dismiss"),
    path("sessions/<int:session_id>/check-in/", views.session_check_in, name="session-check-in"),
    path("reports/", reports.reports_page, name="reports"),
    path(
        "components/<int:component_id>/reauthorization-packet/",
        reports.reauthorization_packet,
        name="reauthorization-packet",
    ),
]
