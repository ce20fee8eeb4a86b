"""``/fhir/R4/`` routes (included from backend/urls.py). Ids are matched as strings so that a
malformed id gets a FHIR 404 OperationOutcome, not Django's page."""

from django.urls import path, re_path

from api.fhir import views as v

app_name = "fhir"

_TYPES = r"(?P<resource_type>[A-Z][A-Za-z]+)"

urlpatterns = [
    path("metadata", v.MetadataView.as_view(), name="metadata"),
    path("Patient/<str:pk>/$everything", v.EverythingView.as_view(), name="patient-everything"),
    re_path(rf"^{_TYPES}/(?P<pk>[^/]+)/?$", v.ReadView.as_view(), name="read"),
    re_path(rf"^{_TYPES}/?$", v.SearchView.as_view(), name="search"),
    re_path(r"^.*$", v.UnknownRouteView.as_view(), name="unknown"),
]
