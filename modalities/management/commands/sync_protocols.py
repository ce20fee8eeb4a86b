from django.core.management.base import BaseCommand, CommandError

from backend.errors import DomainError
from modalities.services import sync_catalogue
from modalities.specs import CatalogueError


class Command(BaseCommand):
    help = "Load the versioned protocol catalogue (modalities/catalogue/*.yaml) into the database."

    def handle(self, *args, **options):
        try:
            result = sync_catalogue()
        except (CatalogueError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Protocols: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged."
            )
        )
        for ident in result.created + result.updated:
            self.stdout.write(f"  {ident}")
