from django.contrib import admin
from django.urls import include, path

from backend import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("fhir/R4/", include("api.fhir.urls")),
    path("dashboard/", include("dashboard.urls")),
]

handler400 = "backend.errors.handler400"
handler403 = "backend.errors.handler403"
handler404 = "backend.errors.handler404"
handler500 = "backend.errors.handler500"
