"""`python manage.py import_salmon principle_collection_harmless.json [...]`"""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from elicitation.services.constitutions import salmon_import


class Command(BaseCommand):
    help = (
        "Import SALMON principle files (JSON lists of dimension, definition, weight or negative_definition): "
        "each becomes approved principles and a draft constitution holding them in order. Nothing is imported "
        "unless every file is valid."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args, files: list[Path], **options) -> None:
        try:
            with transaction.atomic():
                versions = [salmon_import(name=path.name, data=_read(path)) for path in files]
        except ValidationError as exc:
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(exc.messages)) from None
        for version in versions:
            self.stdout.write(self.style.SUCCESS(
                f"“{version.constitution.title}”: constitution {version.constitution.pk}, draft version "
                f"{version.number} with {version.entries.count()} principles."
            ))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
