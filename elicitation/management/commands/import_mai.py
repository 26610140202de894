"""`python manage.py import_mai --title T --values values.json --edges edges.csv`"""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from elicitation.domain.moral_graph_mai import StudyFile
from elicitation.services.moral_graph import mai_study_import


class Command(BaseCommand):
    help = (
        "Import a Meaning Alignment Institute study (its values and edges tables, as JSON or CSV) as a new, "
        "closed campaign. Nothing is imported unless every row is valid."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--title", required=True, help="title of the new campaign")
        parser.add_argument("--values", required=True, type=Path,
                            help="values cards: id, title, instructionsShort, evaluationCriteria (instructionsDetailed)")
        parser.add_argument("--edges", required=True, type=Path,
                            help="votes: userId, fromId, toId, contextId, relationship, story, comment, createdAt")
        parser.add_argument("--question", action="append", default=[], dest="questions",
                            help="a question the study asked; repeat for several")
        parser.add_argument("--description", default="", help="description of the new campaign")

    def handle(self, *args, title: str, values: Path, edges: Path, questions: list[str], description: str,
               **options) -> None:
        try:
            summary = mai_study_import(
                title=title, values=_read(values), edges=_read(edges), questions=questions, description=description
            )
        except ValidationError as exc:
            problems = exc.messages
            more = f" (and {len(problems) - 1} more problems: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
            raise CommandError(f"Nothing was imported. {problems[0]}{more}") from None
        self.stdout.write(self.style.SUCCESS(
            f"Imported “{summary.campaign.title}” as campaign {summary.campaign.pk} (closed): {summary.values} values, "
            f"{summary.contexts} contexts, {summary.votes} votes by {summary.voters} voters, {summary.stories} stories; "
            f"{summary.repeats} repeated votes counted once."
        ))


def _read(path: Path) -> StudyFile:
    try:
        return StudyFile(name=path.name, content=path.read_bytes())
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
