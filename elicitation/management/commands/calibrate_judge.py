"""`python manage.py calibrate_judge`: calibrate the configured same-value judge here, in the foreground."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from elicitation.domain.dedup import beats_chance
from elicitation.models import JudgeCalibration
from elicitation.services.dedup import judge_calibrate, judge_calibration_request


class Command(BaseCommand):
    help = (
        "Ask the configured LLM judge about the labelled pairs and keep the result: deduplication trusts the "
        "judge only when it answers better than chance, and otherwise decides by embedding distance alone, "
        "queueing borderline pairs for curators. The values page queues the same calibration on a worker."
    )

    def handle(self, *args, **options) -> None:
        try:
            calibration = judge_calibration_request(queue=False)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Calibrating {calibration.backend} on the labelled pairs…")
        calibration = judge_calibrate(calibration=calibration)
        if calibration.status == JudgeCalibration.FAILED:
            raise CommandError(calibration.error)
        verdict = ("better than chance: judge mode" if beats_chance(calibration.p_value)
                   else "at chance: embedding-only mode")
        self.stdout.write(self.style.SUCCESS(
            f"{calibration.correct} of {calibration.pairs} right (accuracy {calibration.accuracy:.2f}, "
            f"p = {calibration.p_value:.3f}): {verdict}."))
