"""Routes of this area, included under /api/v1/ by api/urls.py."""

urlpatterns: list = []
