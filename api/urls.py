"""``/api/``: the versioned REST API, its schema and its docs."""

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.auth import TokenObtainView, TokenRevokeView
from api.root import ApiRootView

app_name = "api"

v1: list[URLPattern | URLResolver] = [
    path("", ApiRootView.as_view(), name="root"),
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="token-revoke"),
    path("", include("api.plans.urls")),
    path("", include("api.scheduling.urls")),
    path("", include("api.notifications.urls")),
    path("", include("api.billing.urls")),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
