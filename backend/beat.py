"""Celery beat's scheduler with a liveness file (``CELERY_BEAT_SCHEDULER``).

Beat has no port to probe, and a beat that has died or hangs is silent: no reminder dispatch,
no flag scan, no error anywhere (DESIGN.md promise 4 depends on the dispatch tick). This
scheduler touches ``BEAT_HEARTBEAT_FILE`` after every tick — at least every
``CELERY_BEAT_MAX_LOOP_INTERVAL`` seconds — and removes it when beat shuts down, so the health
check (``backend/healthcheck.py beat``) fails as soon as beat stops and when it stops ticking.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)


class HeartbeatScheduler(PersistentScheduler):
    """The default persistent (shelve) scheduler, plus the heartbeat file."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from django.conf import settings

        path = getattr(settings, "BEAT_HEARTBEAT_FILE", "")
        self.heartbeat_path = Path(path) if path else None
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        self._touch()
        return interval

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.heartbeat_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.heartbeat_path.unlink()

    def _touch(self) -> None:
        if self.heartbeat_path is None:
            return
        try:
            self.heartbeat_path.parent.mkdir(parents=True, exist_ok=True)
            self.heartbeat_path.touch()
            os.utime(self.heartbeat_path)
        except OSError:  # a full or read-only volume must not stop the schedule itself
            logger.warning("beat heartbeat not written to %s", self.heartbeat_path, exc_info=True)
