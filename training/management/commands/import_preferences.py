"""`python manage.py import_preferences FILE --name NAME [--map user=judge,...]`"""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from training.preference_files import FORMATS, Columns, ColumnsError
from training.services.imports import ImportRefused, preferences_import


class Command(BaseCommand):
    help = (
        "Import a preference dataset (JSONL, optionally gzipped; CSV; Parquet; or a folder that "
        "datasets.load_dataset reads) as a preference-population target. Columns: user, prompt, chosen, "
        "rejected, and optionally system. Every row is checked first: nothing is imported unless the file passes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="the file or folder")
        parser.add_argument("--name", required=True, help="the target's name (an existing one gets a new version)")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file name (a folder: folder)")
        parser.add_argument("--map", default="", help="field=column for columns named otherwise, "
                                                      "e.g. user=judge,prompt=question")
        parser.add_argument("--metadata", default="", help="comma-separated columns to keep with each pair")
        parser.add_argument("--ignore", default="", help="comma-separated columns to leave out")
        parser.add_argument("--min-pairs", type=int, default=1, help="leave out annotators with fewer pairs")
        parser.add_argument("--split", default="train", help="the split of a folder read by datasets")

    def handle(self, *args, path: Path, name: str, format: str | None, map: str, metadata: str, ignore: str,
               min_pairs: int, split: str, **options) -> None:
        if not path.exists():
            raise CommandError(f"No such file or folder: {path}")
        try:
            columns = Columns.parse(map, metadata=metadata, ignore=ignore)
            target, report = preferences_import(name=name, path=path, fmt=format, columns=columns,
                                                min_pairs_per_user=min_pairs, split=split)
        except ColumnsError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("Nothing was imported: " + " ".join(exc.messages)) from None
        except ImportRefused as exc:
            raise CommandError(_refusal(exc.report)) from None
        skipped = report["skipped"]
        self.stdout.write(self.style.SUCCESS(
            f"Imported “{target}” (target {target.pk}): {report['pairs']} pairs from {report['users']} annotators "
            f"out of {report['rows']} rows."))
        self.stdout.write(
            f"Skipped: {skipped['empty_response']} with an empty response, {skipped['same_response']} with "
            f"chosen the same as rejected; {report['users_without_pairs']} annotators left with no pairs, "
            f"{report['users_below_min_pairs']} with fewer than {report['min_pairs_per_user']}.")
        for row in report["skipped_rows"]:
            self.stdout.write(f"  skipped {row['file']}, line {row['line']}, field “{row['field']}”: {row['message']}")


def _refusal(report: dict) -> str:
    lines = [f"Nothing was imported: {report['refused']} problem(s)."]
    for p in report["problems"]:
        where = f"line {p['line']}" if p["line"] else "the file"
        lines.append(f"  {p['file']}, {where}" + (f", field “{p['field']}”" if p["field"] else "") + f": {p['message']}")
    if report["refused"] > len(report["problems"]):
        lines.append(f"  … and {report['refused'] - len(report['problems'])} more")
    return "\n".join(lines)
