"""Reads for deduplication's mode: whether the configured judge is trusted (its calibration), and
the borderline pairs waiting for a curator."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, Subquery

from chorus import llm
from elicitation.domain.dedup import LOOSE_DISTANCE_THRESHOLD, TIGHT_DISTANCE_THRESHOLD, beats_chance
from elicitation.models import BorderlinePair, Campaign, JudgeCalibration


@dataclass(frozen=True)
class DedupMode:
    backend: str  # chorus.llm.backend_identity()
    calibration: JudgeCalibration | None  # the latest finished calibration of this backend
    latest: JudgeCalibration | None  # the latest request, finished or not (to show queued, running, failed)
    tight: float = TIGHT_DISTANCE_THRESHOLD
    loose: float = LOOSE_DISTANCE_THRESHOLD

    @property
    def uses_judge(self) -> bool:
        """The judge decides only once it has measured better than chance; until then, and whenever it
        is at chance, embedding distance decides and borderline pairs go to a curator."""
        return self.calibration is not None and beats_chance(self.calibration.p_value)

    @property
    def pending(self) -> bool:
        return self.latest is not None and self.latest.status in (JudgeCalibration.QUEUED, JudgeCalibration.RUNNING)


def dedup_mode() -> DedupMode:
    """The configured backend's mode: its latest calibration and its latest finished one, in one query."""
    backend = llm.backend_identity()
    runs = JudgeCalibration.objects.filter(backend=backend)
    latest = runs.values("pk")[:1]
    latest_done = runs.filter(status=JudgeCalibration.DONE).values("pk")[:1]
    rows = list(JudgeCalibration.objects.filter(Q(pk=Subquery(latest)) | Q(pk=Subquery(latest_done))))  # newest first
    done = [r for r in rows if r.status == JudgeCalibration.DONE]
    return DedupMode(backend=backend, calibration=done[0] if done else None, latest=rows[0] if rows else None)


def borderline_pending(*, campaign: Campaign) -> list[BorderlinePair]:
    """Pairs a curator has still to decide, by question, nearest first."""
    return list(
        BorderlinePair.objects.filter(status=BorderlinePair.PENDING, card__question__campaign=campaign)
        .select_related("card", "canonical", "card__question")
        .order_by("card__question__position", "card__question_id", "distance", "pk")
    )
