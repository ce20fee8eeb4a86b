"""The protocol catalogue (no patient data: not audited)."""

from __future__ import annotations

from django.db.models import Count
from rest_framework import generics

from api.plans.filters import ProtocolFilter
from api.plans.serializers.catalogue import ProtocolOut
from modalities.models import Protocol


def _protocols():
    return Protocol.objects.prefetch_related("indications", "requirements").annotate(
        component_count=Count("components", distinct=True)
    )


class ProtocolListView(generics.ListAPIView):
    """The versioned protocol catalogue (read-only): label status per indication, target,
    phases, minutes, cap, requirement specs with their sources."""

    serializer_class = ProtocolOut
    filterset_class = ProtocolFilter

    def get_queryset(self):
        return _protocols().order_by("modality", "code", "-version")


class ProtocolDetailView(generics.RetrieveAPIView):
    serializer_class = ProtocolOut

    def get_queryset(self):
        return _protocols()
