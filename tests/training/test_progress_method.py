"""The trackers (training/methods/progress.py): which pairs each trains on at a step, and a tiny
run through a timeline that leaves one model and one value vector per step, and scores."""
from __future__ import annotations

import json
from pathlib import Path

from training.methods import progress
from training.methods.common.contract import RunInputs
from training.methods.progress import Config, Pair, extrapolated_pairs, training_pairs


class Hooks:
    def __init__(self):
        self.logs, self.points, self.stages = [], [], []

    def progress(self, fraction, *, stage):
        self.stages.append(stage)

    def metrics(self, step, values):
        self.points.append((step, dict(values)))

    def log(self, message):
        self.logs.append(message)

    def check_cancelled(self):
        pass


def pair(step, chosen, rejected, prompt="Q"):
    return Pair(step, "", prompt, chosen, rejected)


def test_lifelong_trains_on_the_steps_own_pairs_and_extrapolative_on_their_trend():
    history = [[pair(0, "plain", "warm"), pair(0, "x", "y", prompt="R")],
               [pair(1, "warm", "plain"), pair(1, "x", "y", prompt="R")]]
    assert training_pairs(Config(tracker="lifelong"), history) == history[1]
    # "warm" went from -1 to +1 (in the pair's fixed order, "plain" < "warm": +1 is towards "plain"):
    # order 1 gives 2 * (-1) - (+1) = -3, so warm over plain three times; R steady: once.
    out = extrapolated_pairs(history, order=1, ahead=1)
    assert sorted(out, key=lambda p: p.prompt) == [pair(1, "warm", "plain")] * 3 + [pair(1, "x", "y", prompt="R")]
    assert extrapolated_pairs(history[:1], order=1, ahead=1) == history[0]  # one step: order 0


def test_split_judgments_extrapolate_their_net_share():
    # step 0: 2 of 2 for plain; step 1: 1 of 2 -> nets +1 then 0 -> 2 * 0 - 1 = -1: warm chosen, |-1| * 2 rows
    history = [[pair(0, "plain", "warm")] * 2, [pair(1, "plain", "warm"), pair(1, "warm", "plain")]]
    assert extrapolated_pairs(history, order=1, ahead=1) == [pair(1, "warm", "plain")] * 2


def write_timeline(folder: Path, n_steps: int, *, with_vectors: bool) -> dict[str, Path]:
    steps, rows = [], []
    for t in range(n_steps):
        warm = t >= 1
        for prompt in ("How do I say no?", "How do I say yes?"):
            rows.append({"step": t, "user": "u1", "system": "", "dimensions": {}, "prompt": prompt,
                         "chosen": "Kindly." if warm else "Plainly.", "rejected": "Plainly." if warm else "Kindly."})
        vector = {"mean": [0.9 - 0.2 * t, 0.5] + [None] * 17} if with_vectors else None
        steps.append({"step": t, "wave": t + 1, "label": f"Wave {t + 1}", "pairs": 2, "population_vector": vector})
    files = {"steps.jsonl": steps, "preferences.jsonl": rows}
    for name, content in files.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in content))
    return {name: folder / name for name in files}


def test_a_tiny_run_leaves_a_model_and_a_vector_per_step_and_scores(tiny_model_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    inputs = RunInputs(run_id=1, base_model=str(tiny_model_dir), dataset=write_timeline(data, 3, with_vectors=True),
                       work_dir=tmp_path / "work", output_dir=tmp_path / "out", device="cpu", bf16=False)
    inputs.work_dir.mkdir()
    inputs.output_dir.mkdir()
    hooks = Hooks()
    result = progress.train(inputs, Config(**{**Config.tiny().__dict__, "tracker": "extrapolative"}), hooks)

    for t in range(3):
        folder = inputs.output_dir / "steps" / f"step-{t}"
        vector = json.loads((folder / "value_vector.json").read_text())
        assert len(vector["mean"]) == 19 and (folder / "model.safetensors").is_file()
    assert (inputs.output_dir / "model.safetensors").read_bytes() == (
        inputs.output_dir / "steps" / "step-2" / "model.safetensors").read_bytes()
    assert set(result.metrics) == {"pg_follow", "pg_predict", "pg_coevolve",
                                   "baseline_pg_follow", "baseline_pg_predict", "baseline_pg_coevolve"}
    rows = result.summary["tracking"]["rows"]
    assert [r["model"] for r in rows] == ["steps/step-0", "steps/step-1", "steps/step-2"]
    assert "predict" in rows[0] and "predict" not in rows[2]
    for t, row in enumerate(rows):  # each step's interval, as its value_vector.json holds it, for the trend charts
        vector = json.loads((inputs.output_dir / "steps" / f"step-{t}" / "value_vector.json").read_text())
        assert (row["vector"], row["low"], row["high"]) == (vector["mean"], vector["low"], vector["high"])
    assert any("extrapolative DPO on 6 pairs" in line for line in hooks.logs)  # step 1's flip, weight 3

    again = Hooks()  # a restarted attempt trains nothing again
    progress.train(inputs, Config(**{**Config.tiny().__dict__, "tracker": "extrapolative"}), again)
    assert not any("DPO on" in line for line in again.logs)
