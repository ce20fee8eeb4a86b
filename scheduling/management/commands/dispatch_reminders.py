"""``manage.py dispatch_reminders``: one beat tick by hand (claim due rows, enqueue sends).

``--loop --interval S --duration T`` repeats the tick (a beat-equivalent used by the fault
tests); ``--send-inline`` sends in this process instead of enqueueing (no worker needed).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from scheduling.delivery.dispatch import dispatch_due_reminders
from scheduling.delivery.send import send_reminders


class Command(BaseCommand):
    help = "Claim due reminder rows (SKIP LOCKED) and hand them to send tasks."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--duration", type=float, default=0.0, help="seconds; 0 = forever")
        parser.add_argument("--batch-size", type=int, default=None, help="rows per send batch")
        parser.add_argument("--send-inline", action="store_true")

    def handle(self, *args, **opts):
        enqueue = None
        if opts["send_inline"]:

            def enqueue(ids: list[int]) -> None:
                for rid, outcome in send_reminders(reminder_ids=ids).items():
                    self.stdout.write(f"reminder {rid}: {outcome}")

        deadline = time.monotonic() + opts["duration"] if opts["duration"] else None
        while True:
            try:
                claimed = dispatch_due_reminders(batch_size=opts["batch_size"], enqueue=enqueue)
                self.stdout.write(f"claimed {len(claimed)}")
            except Exception as exc:  # a tick that fails (DB blip) must not end the loop
                if not opts["loop"]:
                    raise
                self.stderr.write(f"tick failed: {exc}")
            if not opts["loop"] or (deadline is not None and time.monotonic() >= deadline):
                return
            time.sleep(opts["interval"])
