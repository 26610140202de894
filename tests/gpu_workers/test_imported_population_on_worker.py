"""An imported preference dataset is the same kind of target as a frozen campaign: PAL and VPL train
on it on the gpu worker, through the same runs. (Janus reads the same files, `system` included, and
accepts the target in tests/training/test_preference_import.py; its worker run takes minutes on a
shared CPU, so its worker test stays the one on a frozen campaign.)"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict

import pytest

from training.methods import pal, vpl
from training.methods.toys import PROMPTS
from training.models import TrainingRun
from training.services.imports import preferences_import
from training.services.runs import run_create

pytestmark = pytest.mark.django_db(transaction=True)

SHORT = ("Start small.", "Ask a friend.", "Take your time.")
MORE = " Then check it twice, and wait a bit before the next step."


def brevity_file(path):
    """16 annotators judge 12 short-vs-long pairs each; even-numbered ones want brevity, odd detail."""
    rng = random.Random(0)
    rows = []
    for n in range(16):
        for _ in range(12):
            short = rng.choice(SHORT)
            wants_long = n % 2 == 1
            rows.append({"annotator": f"rater-{n}", "question": rng.choice(PROMPTS),
                         "chosen": short + MORE if wants_long else short, "rejected": short if wants_long else short + MORE,
                         "system": "Give me detail." if wants_long else "Short answers, please.", "batch": n // 4})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def finished(run: TrainingRun) -> TrainingRun:
    deadline = time.monotonic() + 180
    while not (run := TrainingRun.objects.get(pk=run.pk)).is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    return run


@pytest.mark.parametrize("method", [pal, vpl], ids=["pal", "vpl"])
def test_an_imported_population_trains_on_the_gpu_worker(celery_workers, tiny_model_dir, tmp_path, method):
    from training.preference_files import Columns

    target, report = preferences_import(name="brevity", path=brevity_file(tmp_path / "brevity.jsonl"),
                                        columns=Columns.parse("user=annotator,prompt=question", metadata="batch"))
    assert (report["pairs"], report["users"]) == (192, 16)
    name = method.__name__.rsplit(".", 1)[1]
    config = {**asdict(method.Config.tiny()), "new_user_fraction": 0.25, "eval_fraction": 0.25}
    run = finished(run_create(target=target, method=name, base_model=str(tiny_model_dir), config=config))
    assert run.metrics["eval_accuracy"] >= 0.75 and run.metrics["new_user_accuracy"] >= 0.75
    assert run.summary["people"] == 16
