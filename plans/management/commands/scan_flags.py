"""``manage.py scan_flags``: one flag-scanner pass by hand, chunk by chunk (all plans, or
``--plan ID ...``; ``--after ID`` resumes a full scan after the last chunk a killed run applied —
its ``last_upto_id``; ``--full`` judges every plan, also those the last scan left
settled)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from plans.digests import send_critical_flag_digests
from plans.scanner import scan_all_plans


class Command(BaseCommand):
    help = "Raise, escalate and resolve time-based flags, one committed chunk of plans at a time."

    def add_arguments(self, parser):
        parser.add_argument("--plan", type=int, nargs="*", dest="plans")
        parser.add_argument("--after", type=int, default=None, help="resume after this plan id")
        parser.add_argument(
            "--full",
            action="store_true",
            help="judge every plan, also those whose last answer still holds",
        )
        parser.add_argument("--digest", action="store_true", help="also send coordinator digests")

    def handle(self, *args, **opts):
        result = scan_all_plans(
            plan_ids=opts["plans"] or None, after_id=opts["after"], force=opts["full"]
        )
        self.stdout.write(json.dumps(result.as_dict(), sort_keys=True))
        if opts["digest"]:
            self.stdout.write(f"digests sent: {send_critical_flag_digests()}")
