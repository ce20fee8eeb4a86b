from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scheduling import demo_foundation as demo


class Command(BaseCommand):
    help = "Load synthetic demo data (idempotent) and print the demo credentials."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="allow with DEBUG off")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("refusing to load demo data with DEBUG off (use --force)")
        demo.seed_all()
        self.stdout.write(self.style.SUCCESS("Demo data ready. Synthetic logins:"))
        for user in demo.DEMO_USERS:
            role = f"{user.role}/{user.credential}" if user.credential else user.role
            self.stdout.write(f"  {user.username:<14} {user.password:<26} {role}")
        self.stdout.write("API token: POST /api/v1/auth/token/ {username, password}")
