"""`python manage.py import_polis EXPORT_DIR [--title T]`"""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from elicitation.domain.statements_polis import ExportFile, PolisExportRefused, polis_summary_read
from elicitation.services.statements import polis_import


class Command(BaseCommand):
    help = (
        "Import a Polis conversation export (a folder with comments.csv and votes.csv, and summary.csv if "
        "present) as a new, closed campaign of statements and votes. Nothing is imported unless every row is valid."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("export", type=Path, help="folder of the export")
        parser.add_argument("--title", default="", help="campaign title (default: the export's topic)")

    def handle(self, *args, export: Path, title: str, **options) -> None:
        summary_file = export / "summary.csv"
        try:
            summary = polis_summary_read(_read(summary_file)) if summary_file.exists() else {}
        except PolisExportRefused as exc:
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(exc.problems)) from None
        topic = summary.get("topic", "")
        try:
            result = polis_import(
                comments=_read(export / "comments.csv"), votes=_read(export / "votes.csv"),
                title=title or topic or export.name, topic=summary.get("conversation-description", topic),
                description=f"Imported from the Polis export {summary.get('url', export.name)}.",
            )
        except ValidationError as exc:
            problems = exc.messages
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(problems)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Imported “{result.campaign.title}” as campaign {result.campaign.pk} (closed): {result.statements} "
            f"statements, {result.votes} votes by {result.voters} voters ({result.vote_rows} rows in votes.csv; "
            f"{result.superseded} were replaced by the same voter's later vote)."
        ))


def _read(path: Path) -> ExportFile:
    try:
        return ExportFile(name=path.name, data=path.read_bytes())
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
