"""Routes of the billing area (issue 11), included under /api/v1/ by api/urls.py."""

from django.urls import path

from api.billing import views as v

urlpatterns: list = [
    path(
        "components/<int:pk>/authorizations/",
        v.ComponentAuthorizationsView.as_view(),
        name="component-authorizations",
    ),
    path(
        "components/<int:pk>/reauthorization-packet/",
        v.ReauthorizationPacketView.as_view(),
        name="component-reauthorization-packet",
    ),
    path(
        "authorizations/<int:pk>/", v.AuthorizationDetailView.as_view(), name="authorization-detail"
    ),
    path(
        "authorizations/<int:pk>/evidence/",
        v.AuthorizationEvidenceView.as_view(),
        name="authorization-evidence",
    ),
    path("reports/claims/", v.ClaimsReportView.as_view(), name="report-claims"),
    path("reports/claims/csv/", v.ClaimsCsvView.as_view(), name="report-claims-csv"),
    path("reports/outcomes/", v.OutcomesReportView.as_view(), name="report-outcomes"),
    path("reports/outcomes/csv/", v.OutcomesCsvView.as_view(), name="report-outcomes-csv"),
    path(
        "reports/authorizations/",
        v.AuthorizationWorklistView.as_view(),
        name="report-authorizations",
    ),
    path(
        "reports/authorizations/csv/",
        v.AuthorizationWorklistCsvView.as_view(),
        name="report-authorizations-csv",
    ),
]
