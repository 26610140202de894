from django.core.management.base import BaseCommand, CommandError

from chorus.health import problems


class Command(BaseCommand):
    help = "Check that PostgreSQL, the Celery broker and (for the openai backend) the LLM endpoint are reachable."

    def handle(self, *args, **options) -> None:
        found = problems()
        if found:
            raise CommandError("\n".join(found))
        self.stdout.write("services: database, broker and LLM backend are reachable")
