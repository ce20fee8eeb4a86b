"""``manage.py scan_flags``: one flag-scanner pass by hand (all plans, or ``--plan ID ...``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from plans.digests import send_critical_flag_digests
from plans.scanner import scan_all_plans


class Command(BaseCommand):
    help = "Raise, escalate and resolve time-based flags in one set-based pass."

    def add_arguments(self, parser):
        parser.add_argument("--plan", type=int, nargs="*", dest="plans")
        parser.add_argument("--digest", action="store_true", help="also send coordinator digests")

    def handle(self, *args, **opts):
        result = scan_all_plans(plan_ids=opts["plans"] or None)
        self.stdout.write(json.dumps(result.as_dict(), sort_keys=True))
        if opts["digest"]:
            self.stdout.write(f"digests sent: {send_critical_flag_digests()}")
