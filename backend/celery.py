"""The Celery app (``celery -A backend worker|beat``).

Configuration lives in Django settings under ``CELERY_*`` (backend/settings/base.py): JSON only,
UTC, prefetch 1, late acks for idempotent tasks, time limits, queues default/reminders/flags.
Reminders are rows and beat only rings the doorbell (DESIGN.md promise 4; docs/adr/0002).
"""

from __future__ import annotations

import os
import socket
import time

from celery import Celery, bootsteps, signals
from celery.utils.log import get_logger
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.development")
logger = get_logger(__name__)

app = Celery("backend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "reminders", "flags")]
app.autodiscover_tasks()


@signals.setup_logging.connect
def _use_django_logging(**kwargs):
    """Worker and beat log through settings.LOGGING (backend/log.py), the web's format, instead
    of Celery's own handlers; a connected receiver makes Celery leave logging alone."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes a short-lived Redis key every few seconds while the worker consumes.

    ``/readyz`` reads it: a recent heartbeat means a worker is alive and connected.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        interval = settings.WORKER_HEARTBEAT_SECONDS
        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(interval, self.beat, (worker,), priority=10)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()

    def beat(self, worker):
        from backend.health import write_worker_heartbeat

        write_worker_heartbeat(
            getattr(worker, "hostname", None) or socket.gethostname(), time.time()
        )


app.steps["worker"].add(HeartbeatStep)
