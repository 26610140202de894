"""Trackers of values over time (after ProgressGym, Qiu et al. 2024, "ProgressGym: Alignment with a
Millennium of Moral Progress"): a policy trained through a timeline's steps, one DPO stage per step,
each continuing from the previous step's model. Plain transformers/TRL; no Django.

Two trackers, as ProgressGym's examinees:

- `lifelong`: at step t, DPO on the pairs decided at step t (LifelongDPOExaminee).
- `extrapolative`: at step t, DPO on the same pairs, each oriented and repeated by its preference
  extrapolated `steps_ahead` steps past t from the last `extrapolation_order` + 1 steps
  (ExtrapolativeDPOExaminee; the arithmetic is in training/progress/extrapolate.py).

The DPO reference at each step is the model the step starts from. After each step the model is
saved and its value vector measured (training/progress/vectors.py); the run publishes every step's
model under `steps/step-<t>/` of its model folder, each with its `value_vector.json`, and the last
step's model at the top, so the folder as a whole loads like any other model. Where the timeline
has the population's vector at every step, the run scores the tracker with PG-Follow, PG-Predict and
PG-Coevolve (training/progress/scores.py), and the base model alone, never trained (ProgressGym's
no-tracking baseline), with the same scores.
"""
from __future__ import annotations

import copy
import json
import math
import shutil
import warnings
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.methods.common import distributed, sharding
from training.methods.common.contract import Hooks, RunInputs, RunResult, last_complete_checkpoint
from training.methods.common.trainer_hooks import reporting_callback
from training.progress.extrapolate import extrapolated, repeats
from training.progress.scores import cosine, scores

TARGET_KINDS = ("timeline",)
REQUIRED_FILES = ("steps.jsonl", "preferences.jsonl")
MIN_PEOPLE = 0  # the timeline is learnt from the population step by step, not per person
DATA_PARALLEL = True  # trains in several processes under torchrun (training/methods/common/distributed.py)
TRACKERS = ("lifelong", "extrapolative")


@dataclass
class Config:
    tracker: str = field(default="lifelong", metadata={
        "help": "lifelong: DPO on each step's pairs; extrapolative: on each pair's preference extrapolated "
                "ahead from the last steps (ProgressGym).", "choices": TRACKERS})
    dpo_steps: int = field(default=200, metadata={"help": "DPO steps at each time step.", "min": 1})
    per_device_batch_size: int = field(default=8, metadata={
        "help": "Pairs per DPO step on each device (each training process).", "min": 1, "max": 1024})
    learning_rate: float = field(default=5e-7, metadata={"help": "DPO learning rate.", "min": 1e-9, "max": 1.0})
    beta: float = field(default=0.1, metadata={"help": "DPO's beta: how far each step may move from the last.",
                                               "min": 1e-4, "max": 10.0})
    extrapolation_order: int = field(default=1, metadata={
        "help": "Extrapolative: finite-difference order, from the last order + 1 steps (1 is linear).",
        "min": 0, "max": 8})
    steps_ahead: int = field(default=1, metadata={
        "help": "Extrapolative: how many steps ahead to extrapolate; also PG-Predict's horizon.", "min": 1, "max": 8})
    max_length: int = field(default=1024, metadata={"help": "Most tokens of prompt + response in training.",
                                                    "min": 16})
    vector_items_per_dim: int = field(default=10, metadata={
        "help": "Items per dimension when measuring each step's value vector (0: every item).", "min": 0})
    logging_steps: int = field(default=10, metadata={"help": "Report loss every this many DPO steps.", "min": 1})
    sharding: str = field(default="ddp", metadata={"help": sharding.HELP, "choices": sharding.CHOICES})
    seed: int = field(default=0, metadata={"help": "Seeds training.", "min": 0})

    @classmethod
    def tiny(cls) -> Config:
        """Trains the 2-layer test Llama on CPU in seconds per step (see training/methods/toys.py)."""
        return cls(dpo_steps=4, per_device_batch_size=4, learning_rate=1e-3, max_length=512,
                   vector_items_per_dim=1, logging_steps=2)


MODEL_CARD = """\
A tracker of values over time (ProgressGym): a causal language model trained through the steps of a
timeline (a campaign's waves), one DPO stage per step, each continuing from the previous step's model.
The folder holds the last step's model at the top and every step's model under `steps/step-<t>/`,
each with `value_vector.json` (ProgressGym's 19 dimensions, with 95 % intervals):

```python
model = AutoModelForCausalLM.from_pretrained(path, subfolder="steps/step-0")  # the model after the first wave
```

**Intended use**: studying how a model follows (lifelong) or anticipates (extrapolative) the way a
population's preferences move between waves. **Limits**: a step learns only from the pairs decided
in its wave; extrapolation assumes each pair's preference keeps moving as it did over the last few
waves, which is false where a trend stops or turns.
"""

USAGE = """\
import json
from pathlib import Path
from transformers import AutoModelForCausalLM

steps = sorted(Path(path, "steps").iterdir(), key=lambda p: int(p.name.split("-")[1]))
first = AutoModelForCausalLM.from_pretrained(steps[0])
vectors = [json.loads((s / "value_vector.json").read_text())["mean"] for s in steps]
print(len(steps), "steps; first dimension per step:", [v[0] for v in vectors])
"""

OOM_HINT = ("Lower per_device_batch_size or max_length, or use a smaller base model (each DPO step holds the "
            "policy and its reference in memory together), or split them across several GPUs with sharding fsdp.")


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    step: int
    system: str
    prompt: str
    chosen: str
    rejected: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The same question and the same two responses, whichever was chosen."""
        first, second = sorted((self.chosen, self.rejected))
        return self.system, self.prompt, first, second

    @property
    def towards_first(self) -> float:
        return 1.0 if self.chosen <= self.rejected else -1.0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_timeline(dataset: dict[str, Path]) -> tuple[list[dict[str, Any]], list[list[Pair]]]:
    """(the step rows in order, each step's pairs)."""
    steps = sorted(read_jsonl(dataset["steps.jsonl"]), key=lambda s: s["step"])
    by_step: dict[int, list[Pair]] = defaultdict(list)
    for r in read_jsonl(dataset["preferences.jsonl"]):
        by_step[r["step"]].append(Pair(r["step"], r.get("system", ""), r["prompt"], r["chosen"], r["rejected"]))
    return steps, [by_step[s["step"]] for s in steps]


def net_preferences(pairs: Sequence[Pair]) -> tuple[dict[Hashable, float], dict[Hashable, int]]:
    """Per pair key: judgments towards its first response minus against, over all judgments (in
    [-1, 1]); and how many judgments."""
    totals: dict[Hashable, float] = defaultdict(float)
    counts: dict[Hashable, int] = defaultdict(int)
    for p in pairs:
        totals[p.key] += p.towards_first
        counts[p.key] += 1
    return {k: totals[k] / counts[k] for k in totals}, dict(counts)


def extrapolated_pairs(history: Sequence[Sequence[Pair]], *, order: int, ahead: int) -> list[Pair]:
    """The current step's (last of `history`) pairs as the extrapolative tracker trains on them: each
    pair once per unit of its extrapolated preference (capped), chosen by its sign."""
    nets = [net_preferences(pairs)[0] for pairs in history]
    _, judgments = net_preferences(history[-1])
    step = history[-1][0].step if history[-1] else 0
    out = []
    for key, value in extrapolated(nets, order=order, ahead=ahead).items():
        system, prompt, first, second = key
        chosen, rejected = (first, second) if value > 0 else (second, first)
        out += [Pair(step, system, prompt, chosen, rejected)] * repeats(value, judgments[key])
    return out


def training_pairs(config: Config, history: Sequence[Sequence[Pair]]) -> list[Pair]:
    if config.tracker == "extrapolative":
        return extrapolated_pairs(history, order=config.extrapolation_order, ahead=config.steps_ahead)
    return list(history[-1])


def conversation(system: str, prompt: str) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system.strip() else []
    return head + [{"role": "user", "content": prompt}]


def _dpo_rows(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    return [{"prompt": conversation(p.system, p.prompt), "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]} for p in pairs]


# --- training -------------------------------------------------------------------------------


@contextmanager
def _quiet_trl() -> Iterator[None]:
    """TRL calls transformers' renamed gradient_checkpointing_* every step; one warning a step buries the log."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        yield


def dpo_step(pairs: Sequence[Pair], *, start: str, base_model: str, config: Config, checkpoint_dir: Path,
             device: str = "cpu", bf16: bool = False, callbacks: Sequence[Any] = ()) -> tuple[Any, Any]:
    """DPO from the model in folder `start` (also its reference); resumes from checkpoint_dir. Under
    torchrun the writer reads `start`, the other processes the base model, then take the writer's weights;
    the trained model is the writer's (None on the others)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import DPOConfig, DPOTrainer

    folder = start if distributed.is_writer() else base_model
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    args = DPOConfig(output_dir=str(checkpoint_dir), max_steps=config.dpo_steps, learning_rate=config.learning_rate,
                     beta=config.beta, warmup_steps=max(1, config.dpo_steps // 20), lr_scheduler_type="cosine",
                     per_device_train_batch_size=config.per_device_batch_size, max_length=config.max_length,
                     logging_steps=config.logging_steps, save_strategy="steps",
                     save_steps=max(config.dpo_steps // 2, 1), save_total_limit=1, seed=config.seed, bf16=bf16,
                     use_cpu=device == "cpu", report_to=[], disable_tqdm=True, dataloader_num_workers=0,
                     gradient_checkpointing=False,
                     # Whole global batches only, so that one and several processes train alike (see salmon.py).
                     dataloader_drop_last=len(pairs) >= config.per_device_batch_size * distributed.world()[1],
                     **sharding.trainer_args(config.sharding))
    model = distributed.share_weights(AutoModelForCausalLM.from_pretrained(folder))
    # The reference is a copy: TRL would load it from the model's folder, the base model on all but the writer.
    trainer = DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=args, processing_class=tokenizer,
                         callbacks=list(callbacks), train_dataset=Dataset.from_list(_dpo_rows(pairs)))
    trainer.remove_callback(PrinterCallback)
    with _quiet_trl():
        trainer.train(resume_from_checkpoint=last_complete_checkpoint(checkpoint_dir))
    trained = sharding.trained_model(trainer, lambda: AutoModelForCausalLM.from_pretrained(folder))
    return (trained.eval() if trained is not None else None), tokenizer


VectorFn = Callable[[Path], dict[str, Any]]  # a model folder -> ValueVector.to_json()


def progress_vector_fn(config: Config, device: str) -> VectorFn:
    """ProgressGym's 19-dimensional vector of a model folder, on the run's device."""
    from training.progress.vectors import default_backend, value_vector

    def measure(folder: Path) -> dict[str, Any]:
        return value_vector(folder, max_items_per_dim=config.vector_items_per_dim or None,
                            backend=default_backend(device), device=device).to_json()

    return measure


def track(*, steps: Sequence[dict[str, Any]], pairs: Sequence[Sequence[Pair]], base_model: str, config: Config,
          work_dir: Path, hooks: Hooks, measure: VectorFn, device: str = "cpu", bf16: bool = False) -> list[Path]:
    """Trains through every step; returns each step's model folder (in work_dir/steps/, each with
    value_vector.json). A step whose folder is there already (an earlier attempt) is not trained again.
    Under torchrun every process trains each step; the writer alone saves it and measures its vector."""
    folders = []
    start = base_model
    writer = distributed.is_writer()
    for t in range(len(steps)):
        hooks.check_cancelled()
        folder = work_dir / "steps" / f"step-{t}"
        if not distributed.agree((folder / "value_vector.json").is_file()):
            rows = training_pairs(config, pairs[: t + 1])
            staging = work_dir / "steps" / f".step-{t}.tmp"
            if writer:
                shutil.rmtree(staging, ignore_errors=True)
            if rows:
                hooks.log(f"step {t}: {config.tracker} DPO on {len(rows)} pairs ({len(pairs[t])} decided in the step)")
                share = (t / len(steps), (t + 0.8) / len(steps))
                reporting = reporting_callback(hooks, max_steps=config.dpo_steps, progress=share,
                                               stage=f"step {t}: DPO", step_offset=t * config.dpo_steps,
                                               keys={"loss": "loss", "rewards/accuracies": "dpo_accuracy"})
                model, tokenizer = dpo_step(rows, start=start, base_model=base_model, config=config, device=device,
                                            bf16=bf16, checkpoint_dir=work_dir / "step-checkpoints" / f"step-{t}",
                                            callbacks=[reporting])
                if writer:
                    model.save_pretrained(staging)
                    tokenizer.save_pretrained(staging)
                del model
            elif writer:  # every pair's (extrapolated) preference is even: nothing pulls either way
                hooks.log(f"step {t}: no pair leans either way; the model stays as it was")
                shutil.copytree(start, staging, ignore=shutil.ignore_patterns("value_vector.json"))
            if writer:
                hooks.progress((t + 0.8) / len(steps), stage=f"step {t}: value vector")
                _step_publish(staging, folder, measure, work_dir=work_dir, t=t)
        folders.append(folder)
        start = str(folder)
    return folders


def _step_publish(staging: Path, folder: Path, measure: VectorFn, *, work_dir: Path, t: int) -> None:
    """The step's model, measured, becomes its folder; its Trainer checkpoints are no longer needed."""
    vector = measure(staging)
    (staging / "value_vector.json").write_text(json.dumps(vector), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.replace(folder)
    _mark_checkpoint(work_dir, t)
    shutil.rmtree(work_dir / "step-checkpoints" / f"step-{t}", ignore_errors=True)


def _mark_checkpoint(work_dir: Path, t: int) -> None:
    """A finished step counts as a checkpoint for the reaper (which resumes runs that have one)."""
    marker = work_dir / "checkpoints" / f"checkpoint-{t + 1}"
    marker.mkdir(parents=True, exist_ok=True)
    (marker / "trainer_state.json").write_text(json.dumps({"tracking_steps_done": t + 1}))


def tracking_summary(steps: Sequence[dict[str, Any]], tracker: Sequence[dict[str, Any]], baseline: dict[str, Any],
                     *, ahead: int) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(scores of the tracker and of the base model, per-step rows), from value vectors as JSON."""
    actual = [(s.get("population_vector") or {}).get("mean") for s in steps]
    mean = [_array(v["mean"]) for v in tracker]
    rows = []
    for t, step in enumerate(steps):
        row = {"step": t, "wave": step.get("wave"), "label": step.get("label", ""), "pairs": step.get("pairs"),
               "model": f"steps/step-{t}", "vector": tracker[t]["mean"], "low": tracker[t].get("low"),
               "high": tracker[t].get("high"), "population_vector": actual[t]}
        if actual[t] is not None:
            row["follow"] = cosine(mean[t], _array(actual[t]))
        if t + ahead < len(steps) and actual[t + ahead] is not None:
            row["predict"] = cosine(mean[t], _array(actual[t + ahead]))
        rows.append(row)
    metrics: dict[str, float] = {}
    if steps and all(a is not None for a in actual):
        population = [_array(a) for a in actual]
        metrics.update(scores(mean, population, ahead=ahead))
        base = _array(baseline["mean"])
        metrics.update({f"baseline_{k}": v for k, v in scores([base] * len(steps), population, ahead=ahead).items()})
    return metrics, rows


def _array(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


# --- the run ----------------------------------------------------------------------------------


def train(inputs: RunInputs, config: Config, hooks: Hooks) -> RunResult:
    """Every step in turn (resuming after the last finished one), then the base model's vector, the
    scores, and the output folder: the last step's model, and steps/step-<t>/ for each."""
    steps, pairs = read_timeline(dict(inputs.dataset))
    empty = [s["step"] for s, p in zip(steps, pairs) if not p]
    if empty:
        raise ValueError(f"steps {empty} have no pairs (a withdrawal may have emptied them); freeze the timeline again")
    measure = progress_vector_fn(config, inputs.device)
    folders = track(steps=steps, pairs=pairs, base_model=inputs.base_model, config=config, work_dir=inputs.work_dir,
                    hooks=hooks, measure=measure, device=inputs.device, bf16=inputs.bf16)
    if not distributed.is_writer():
        return RunResult(metrics={})  # the writer measures, scores and saves the models
    hooks.progress(0.95, stage="the base model's value vector")
    baseline_file = inputs.work_dir / "baseline_vector.json"
    if not baseline_file.is_file():
        baseline_file.write_text(json.dumps(measure(Path(inputs.base_model))), encoding="utf-8")
    baseline = json.loads(baseline_file.read_text(encoding="utf-8"))
    vectors = [json.loads((f / "value_vector.json").read_text(encoding="utf-8")) for f in folders]
    metrics, rows = tracking_summary(steps, vectors, baseline, ahead=config.steps_ahead)
    if not metrics:
        hooks.log("no scores: the timeline lacks the population's value vector at some step (no value survey "
                  "answers in that wave)")

    shutil.copytree(inputs.work_dir / "steps", inputs.output_dir / "steps", ignore=shutil.ignore_patterns(".*"),
                    dirs_exist_ok=True)
    for item in folders[-1].iterdir():  # the last step's model at the top
        if item.is_file():
            shutil.copy2(item, inputs.output_dir / item.name)
    summary = {"tracker": config.tracker, "steps": len(steps), "pairs": sum(len(p) for p in pairs),
               "tracking": {"rows": rows, "baseline_vector": baseline["mean"], "dims": vectors[-1]["dims"],
                            "ahead": config.steps_ahead}}
    return RunResult(metrics={k: v for k, v in metrics.items() if math.isfinite(v)}, summary=_finite(summary))


def _finite(value: Any) -> Any:
    """NaN (a cosine with no dimension in common) as null: JSON columns take no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
