"""Which TMS device a course may use, and what the device does to the label status (pure).

DOMAIN.md §1.1 data rule: clearance is device-, coil-, protocol-, indication- and age-specific
("store (device, coil, protocol, indication, age range, adjunct flag) as data"). The catalogue
says which coils an indication is cleared with (``cleared_coils``); a protocol may *pin* a coil
(``parameters.coil``: the H7 OCD protocol is defined for the H7 coil and cannot be delivered
with another). A device (``Resource.coil_type``) then is

* ``cleared``  — its coil is one the clearance covers (or the indication is not coil-specific);
* ``off_label`` — a coordinator explicitly chose a coil outside the clearance: the component
  becomes off-label and the off-label consent / financial requirements apply;
* ``refused``  — the protocol pins another coil: 409 ``coil_not_allowed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from modalities.vocab import LabelStatus, normalise_coil


class DeviceFit(StrEnum):
    CLEARED = "cleared"
    OFF_LABEL = "off_label"
    REFUSED = "refused"


def pinned_coil(parameters: Mapping[str, Any] | None) -> str:
    """The coil the protocol is defined for (``parameters.coil``), normalised; '' when none."""
    return normalise_coil(str((parameters or {}).get("coil") or ""))


def preferred_coils(
    *, parameters: Mapping[str, Any] | None, cleared_coils: Iterable[str]
) -> frozenset[str] | None:
    """The coils the generator / auto-pick may use: the pinned one, else the cleared ones;
    ``None`` = any device (the indication is not coil-specific)."""
    pinned = pinned_coil(parameters)
    if pinned:
        return frozenset({pinned})
    cleared = frozenset(normalise_coil(c) for c in cleared_coils)
    return cleared or None


def device_fit(
    *, coil: str, parameters: Mapping[str, Any] | None, cleared_coils: Iterable[str]
) -> DeviceFit:
    """How one TMS device of coil ``coil`` fits the protocol and the indication's clearance."""
    coil = normalise_coil(coil)
    pinned = pinned_coil(parameters)
    if pinned and coil != pinned:
        return DeviceFit.REFUSED
    cleared = {normalise_coil(c) for c in cleared_coils}
    if cleared and coil not in cleared:
        return DeviceFit.OFF_LABEL
    return DeviceFit.CLEARED


def label_status_with_devices(
    *, status: str, cleared_coils: Iterable[str], coils_used: Iterable[str]
) -> str:
    """``status`` (already age-checked), or off-label when a device used or booked carries a
    coil outside a coil-specific clearance. An unknown coil ('' on the device) counts as
    outside: clearance cannot be shown for it."""
    if status not in (LabelStatus.CLEARED, LabelStatus.APPROVED):
        return status
    cleared = {normalise_coil(c) for c in cleared_coils}
    if cleared and any(normalise_coil(c) not in cleared for c in coils_used):
        return LabelStatus.OFF_LABEL
    return status
