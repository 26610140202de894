"""The model card (README.md) published with every trained model."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string

from training.chance import held_out_verdict
from training.models import TrainingRun


def model_card_render(*, run: TrainingRun, metrics: Mapping[str, float], summary: Mapping[str, Any],
                      usage: str) -> str:
    target = run.target
    return render_to_string("training/model_card.md", {
        "run": run, "target": target, "files": target.files.all(), "metrics": sorted(metrics.items()),
        "summary": sorted(summary.items()), "config": sorted(run.config.items()), "usage": usage,
        "held_out": held_out_verdict(metrics, summary),
    })
