"""Routes of this area, included under /api/v1/ by api/urls.py."""

from django.urls import path

from api.fhir.views import PlanFhirExportView
from api.plans import views as v

urlpatterns: list = [
    path("protocols/", v.ProtocolListView.as_view(), name="protocol-list"),
    path("protocols/<int:pk>/", v.ProtocolDetailView.as_view(), name="protocol-detail"),
    path("patients/", v.PatientListCreateView.as_view(), name="patient-list"),
    path("patients/<int:pk>/", v.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<int:pk>/care-team/", v.CareTeamAddView.as_view(), name="care-team-add"),
    path(
        "patients/<int:pk>/care-team/<int:user_id>/",
        v.CareTeamRemoveView.as_view(),
        name="care-team-remove",
    ),
    path("plans/", v.PlanListCreateView.as_view(), name="plan-list"),
    path("plans/<int:pk>/", v.PlanDetailView.as_view(), name="plan-detail"),
    path("plans/<int:pk>/activate/", v.PlanActivateView.as_view(), name="plan-activate"),
    path("plans/<int:pk>/hold/", v.PlanHoldView.as_view(), name="plan-hold"),
    path("plans/<int:pk>/resume/", v.PlanResumeView.as_view(), name="plan-resume"),
    path("plans/<int:pk>/complete/", v.PlanCompleteView.as_view(), name="plan-complete"),
    path("plans/<int:pk>/revoke/", v.PlanRevokeView.as_view(), name="plan-revoke"),
    path("plans/<int:pk>/readiness/", v.PlanReadinessView.as_view(), name="plan-readiness"),
    path("plans/<int:pk>/fhir/", PlanFhirExportView.as_view(), name="plan-fhir"),
    path(
        "plans/<int:pk>/components/", v.PlanComponentCreateView.as_view(), name="component-create"
    ),
    path("components/<int:pk>/", v.ComponentDetailView.as_view(), name="component-detail"),
    path("evaluations/", v.EvaluationListCreateView.as_view(), name="evaluation-list"),
    path("evaluations/<int:pk>/", v.EvaluationDetailView.as_view(), name="evaluation-detail"),
    path(
        "evaluations/<int:pk>/entered-in-error/",
        v.EvaluationEnteredInErrorView.as_view(),
        name="evaluation-entered-in-error",
    ),
    path("measures/", v.MeasureListCreateView.as_view(), name="measure-list"),
    path("measures/<int:pk>/", v.MeasureDetailView.as_view(), name="measure-detail"),
    path("flags/", v.FlagListView.as_view(), name="flag-list"),
    path("flags/<int:pk>/", v.FlagDetailView.as_view(), name="flag-detail"),
    path("flags/<int:pk>/dismiss/", v.FlagDismissView.as_view(), name="flag-dismiss"),
]
