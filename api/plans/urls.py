"""Routes of this area, included under /api/v1/ by api/urls.py."""

from django.urls import path

from api.fhir.views import PlanFhirExportView
from api.plans.views import catalogue, patients, plans, records

urlpatterns: list = [
    path("protocols/", catalogue.ProtocolListView.as_view(), name="protocol-list"),
    path("protocols/<int:pk>/", catalogue.ProtocolDetailView.as_view(), name="protocol-detail"),
    path("patients/", patients.PatientListCreateView.as_view(), name="patient-list"),
    path("patients/<int:pk>/", patients.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<int:pk>/care-team/", patients.CareTeamAddView.as_view(), name="care-team-add"),
    path(
        "patients/<int:pk>/care-team/<int:user_id>/",
        patients.CareTeamRemoveView.as_view(),
        name="care-team-remove",
    ),
    path("plans/", plans.PlanListCreateView.as_view(), name="plan-list"),
    path("plans/<int:pk>/", plans.PlanDetailView.as_view(), name="plan-detail"),
    path("plans/<int:pk>/activate/", plans.PlanActivateView.as_view(), name="plan-activate"),
    path("plans/<int:pk>/hold/", plans.PlanHoldView.as_view(), name="plan-hold"),
    path("plans/<int:pk>/resume/", plans.PlanResumeView.as_view(), name="plan-resume"),
    path("plans/<int:pk>/complete/", plans.PlanCompleteView.as_view(), name="plan-complete"),
    path("plans/<int:pk>/revoke/", plans.PlanRevokeView.as_view(), name="plan-revoke"),
    path("plans/<int:pk>/readiness/", plans.PlanReadinessView.as_view(), name="plan-readiness"),
    path("plans/<int:pk>/fhir/", PlanFhirExportView.as_view(), name="plan-fhir"),
    path(
        "plans/<int:pk>/components/",
        plans.PlanComponentCreateView.as_view(),
        name="component-create",
    ),
    path("components/<int:pk>/", plans.ComponentDetailView.as_view(), name="component-detail"),
    path("evaluations/", records.EvaluationListCreateView.as_view(), name="evaluation-list"),
    path("evaluations/<int:pk>/", records.EvaluationDetailView.as_view(), name="evaluation-detail"),
    path(
        "evaluations/<int:pk>/entered-in-error/",
        records.EvaluationEnteredInErrorView.as_view(),
        name="evaluation-entered-in-error",
    ),
    path("measures/", records.MeasureListCreateView.as_view(), name="measure-list"),
    path("measures/<int:pk>/", records.MeasureDetailView.as_view(), name="measure-detail"),
    path("flags/", records.FlagListView.as_view(), name="flag-list"),
    path("flags/<int:pk>/", records.FlagDetailView.as_view(), name="flag-detail"),
    path("flags/<int:pk>/dismiss/", records.FlagDismissView.as_view(), name="flag-dismiss"),
]
