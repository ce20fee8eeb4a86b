"""The pure ``ProtocolSpec`` of stored protocols, built once per process and revision (issue 17).

Building a spec needs the protocol's indications and requirement specs: two queries and ~100
model instances per read of a plan, the check-in gate or a scanner chunk, for data that is fixed
once a plan uses the version (``sync_catalogue`` refuses the change, the admin is read-only).
Unused versions may still change (the admin, ``sync_catalogue``), and a draft component can be
removed, making its version editable again, so the cache is keyed on ``(id, revision)``:
``Protocol.revision`` gets a fresh value on every write to the protocol (``pre_save``) or one of
its children (``post_save``/``post_delete`` here; ``sync_catalogue`` saves the row after
rewriting them). The revision arrives with the protocol row the caller already loaded
(``select_related("protocol")``), so a hit costs no query, and another process's edit is seen at
the next read. Writes in this process also drop the cache (memory, not correctness).

``protocol_spec_from_model`` stays the one conversion; the plan detail, readiness, the
check-in gate and the scanner all reach it through ``protocol_specs`` (docs/adr/0013).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import prefetch_related_objects
from django.db.models.signals import post_delete, post_save, pre_save

from modalities.models import Protocol, ProtocolIndication, RequirementSpec
from modalities.services import protocol_spec_from_model
from modalities.specs import ProtocolSpec

_cache: dict[tuple[int, uuid.UUID], ProtocolSpec] = {}
_lock = threading.Lock()


def protocol_specs(protocols: Iterable[Protocol]) -> dict[int, ProtocolSpec]:
    """Protocol id → its ``ProtocolSpec`` for loaded ``protocols`` (their ``revision`` read with
    the row). Misses are filled in two queries however many: their indications and requirement
    specs."""
    rows = {p.pk: p for p in protocols}
    found: dict[int, ProtocolSpec] = {}
    missing: list[Protocol] = []
    for pk, row in rows.items():
        spec = _cache.get((pk, row.revision))
        if spec is None:
            missing.append(row)
        else:
            found[pk] = spec
    if missing:
        prefetch_related_objects(missing, "indications", "requirements")
        built = {(p.pk, p.revision): protocol_spec_from_model(p) for p in missing}
        with _lock:
            _cache.update(built)
        found.update({pk: spec for (pk, _), spec in built.items()})
    return found


def protocol_spec(protocol: Protocol) -> ProtocolSpec:
    return protocol_specs([protocol])[protocol.pk]


def clear() -> None:
    with _lock:
        _cache.clear()


def _new_revision(sender: Any, instance: Protocol, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        instance.revision = uuid.uuid4()


def _protocol_changed(sender: Any, **kwargs: Any) -> None:
    clear()


def _child_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    Protocol.objects.filter(pk=instance.protocol_id).update(revision=uuid.uuid4())
    clear()


def connect_signals() -> None:
    """Called from ``ModalitiesConfig.ready``."""
    uid = "modalities.spec_cache"
    pre_save.connect(_new_revision, sender=Protocol, dispatch_uid=f"{uid}.revision")
    post_save.connect(_protocol_changed, sender=Protocol, dispatch_uid=f"{uid}.save")
    post_delete.connect(_protocol_changed, sender=Protocol, dispatch_uid=f"{uid}.delete")
    for child in (ProtocolIndication, RequirementSpec):
        post_save.connect(_child_changed, sender=child, dispatch_uid=f"{uid}.{child.__name__}")
        post_delete.connect(
            _child_changed, sender=child, dispatch_uid=f"{uid}.{child.__name__}.delete"
        )
