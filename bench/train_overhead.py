"""What a Chorus run costs on top of training the same reward model by hand with TRL.

Run from the repo root: `.venv/bin/python bench/train_overhead.py [repeats]` (default 3), with
PostgreSQL and Redis up. It makes a throwaway database (<name>_train_overhead_bench) and
uses Redis database 3, starts its own GPU-queue worker, and times, alternately:

  direct  the toy constitution and prompts in memory -> the policy writes and judges pairs
          (salmon.generate_pairs / label_pairs) -> trl.RewardTrainer -> save_pretrained
  chorus  freeze the target (JSONL files, sha256) -> run_create -> Celery task on the `gpu` worker
          -> executor (heartbeat, progress, checkpoints, metrics) -> model card, hashes, atomic
          publish -> run `succeeded`, as seen by polling the database

Both use the same tiny Llama as base and policy model, the same config and the same pairs.
One untimed round warms both processes first (imports, first model load). Prints the best wall time
and CPU seconds of each (Chorus: this process plus the worker) and their ratios; exits non-zero when
the wall-time ratio is above 1.15x.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]
os.environ["DJANGO_SETTINGS_MODULE"] = "chorus.settings.test"
os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/3"  # away from the test suite's database 2

import django

django.setup()

import datasets
import psutil
import transformers
from django.conf import settings
from django.db import connection

from tests.support.tiny_models import build_tiny_llama
from training.methods import salmon, toys
from training.methods.common.policies import TransformersPolicy

WORKER = "bench-gpu@chorus"
CONFIG = {**asdict(salmon.Config.tiny()), "max_steps": 200, "save_steps": 100, "pairs_per_prompt": 2,
          "principles_per_example": 2, "eval_fraction": 0.0}
PROMPTS = [f"How do I {t}?" for t in toys.TOPICS]


def direct(base: Path, out: Path) -> tuple[float, float]:
    """The same model, trained the way one would without Chorus."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, PrinterCallback
    from trl import RewardConfig, RewardTrainer

    config = salmon.Config(**CONFIG)
    start, cpu = time.monotonic(), time.process_time()
    policy = TransformersPolicy(str(base), device="cpu", bf16=False)
    pairs = salmon.generate_pairs(policy, PROMPTS, config=config)
    examples = salmon.label_pairs(pairs, toys.PRINCIPLES, salmon.logprob_judge(policy), config=config)
    rows = [{"prompt": salmon.format_input([s.text for s in e.shown], e.prompt), "chosen": e.chosen,
             "rejected": e.rejected} for e in examples]
    tokenizer = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(config.seed)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, dtype=torch.float32)
    args = RewardConfig(
        output_dir=str(out / "checkpoints"), max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_batch_size, learning_rate=config.learning_rate,
        max_length=config.max_length, lr_scheduler_type="cosine", warmup_steps=max(1, config.max_steps // 20),
        logging_steps=config.logging_steps, save_strategy="steps", save_steps=config.save_steps, save_total_limit=2,
        seed=config.seed, bf16=False, activation_checkpointing=False, use_cpu=True, report_to=[], disable_tqdm=True,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # as in the method: no per-step printing
    trainer.train()
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    return time.monotonic() - start, time.process_time() - cpu


def through_chorus(base: Path, version_id: int, worker: psutil.Process) -> tuple[float, float]:
    from training.models import TrainingRun
    from training.services.runs import run_create
    from training.services.targets import target_freeze_constitution

    start, cpu, worker_cpu = time.monotonic(), time.process_time(), _cpu(worker)
    target = target_freeze_constitution(name="bench", constitution_version_id=version_id, extra_prompts=PROMPTS)
    run = run_create(target=target, method="salmon", base_model=str(base), config=CONFIG)
    while True:
        status, error = TrainingRun.objects.values_list("status", "error").get(pk=run.pk)
        if status in TrainingRun.FINISHED:
            break
        time.sleep(0.02)
    seconds = time.monotonic() - start
    if status != "succeeded":
        raise SystemExit(f"run {run.pk} {status}: {error}")
    return seconds, time.process_time() - cpu + _cpu(worker) - worker_cpu


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def toy_constitution() -> int:
    from elicitation.services.constitutions import (
        constitution_create,
        constitution_draft,
        constitution_entry_add,
        constitution_version_publish,
        principle_create,
    )

    version = constitution_draft(constitution=constitution_create(title="Toy constitution"))
    for p in toys.PRINCIPLES:
        principle = principle_create(name=p.name, definition=p.definition, negated_definition=p.negated_definition)
        constitution_entry_add(version=version, principle=principle)
    return constitution_version_publish(version=version).pk


def start_worker(db_name: str) -> subprocess.Popen:
    from chorus.celery import app

    db = settings.DATABASES["default"]
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db_name}",
           "PYTHONPATH": str(REPO / "platform")}
    (REPO / "var").mkdir(exist_ok=True)
    with open(REPO / "var" / "bench-worker.log", "w") as log:  # the worker keeps its own copy of the file
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "chorus", "worker", "-l", "warning", "--without-mingle",
             "--without-gossip", "-Q", "gpu", "-P", "solo", "-c", "1", "-n", WORKER],
            cwd=REPO / "platform", env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while not any(WORKER in reply for reply in app.control.ping(timeout=0.5) or []):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the bench worker did not start; see var/bench-worker.log")
    return proc


def main() -> int:
    import shutil

    from chorus.celery import app
    from training.models import AlignmentTarget, TrainingRun
    from training.storage import model_dir, run_dir, target_dir

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    app.control.purge()
    # A database of the bench's own: never the test suite's test_<name>, which a test run may be using.
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_train_overhead_bench"
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    worker = start_worker(db_name)
    times: dict[str, list[tuple[float, float]]] = {"direct": [], "chorus": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = build_tiny_llama(Path(tmp) / "tiny")
            version_id = toy_constitution()
            for round_ in range(repeats + 1):  # round 0 warms both sides up
                d = direct(base, Path(tmp) / f"direct-{round_}")
                c = through_chorus(base, version_id, psutil.Process(worker.pid))
                if round_:
                    times["direct"].append(d)
                    times["chorus"].append(c)
                print(f"round {round_}{' (warm-up)' if not round_ else ''}: direct {d[0]:.2f} s ({d[1]:.2f} s CPU), "
                      f"chorus {c[0]:.2f} s ({c[1]:.2f} s CPU)", flush=True)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        for uuid in AlignmentTarget.objects.values_list("uuid", flat=True):
            shutil.rmtree(target_dir(uuid), ignore_errors=True)
        for uuid in TrainingRun.objects.values_list("uuid", flat=True):
            shutil.rmtree(run_dir(uuid), ignore_errors=True)
            shutil.rmtree(model_dir(uuid), ignore_errors=True)
        connection.creation.destroy_test_db(db_name, verbosity=0)
    # The fastest of each is the least disturbed by whatever else the machine runs (shared cores);
    # CPU seconds (the bench process, plus the worker's for Chorus) hardly depend on that at all.
    wall = {side: min(t[0] for t in rows) for side, rows in times.items()}
    cpu = {side: min(t[1] for t in rows) for side, rows in times.items()}
    print(f"\ntiny reward model, {CONFIG['max_steps']} steps, {len(PROMPTS)} prompts x {CONFIG['pairs_per_prompt']} "
          f"pairs, CPU; best of {repeats} timed rounds")
    print(f"{'':<14}{'wall':>9}{'CPU':>9}")
    print(f"{'direct TRL':<14}{wall['direct']:8.2f}s{cpu['direct']:8.2f}s")
    print(f"{'Chorus run':<14}{wall['chorus']:8.2f}s{cpu['chorus']:8.2f}s")
    ratio = wall["chorus"] / wall["direct"]
    print(f"{'ratio':<14}{ratio:8.2f}x{cpu['chorus'] / cpu['direct']:8.2f}x   (target <= 1.15x on wall time)")
    return 0 if ratio <= 1.15 else 1

if __name__ == "__main__":
    sys.exit(main())
