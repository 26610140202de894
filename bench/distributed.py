"""Data-parallel training: samples per second with 1 and with 2 training processes, and the scaling
efficiency (rate with n processes / (n x rate with 1)). Each count runs the way the GPU worker runs it,
under torchrun through gpu_workers/launcher.py, on the same toy population (training/methods/toys.py)
and the same global batch; stages are timed from rank 0's progress reports. Two methods, one of each
kind (every method trains data-parallel; SALMON and the trackers run the same TRL Trainers as Janus):

  pal     features: the frozen base model reads every distinct response (each process its block);
          training: the PAL head's optimizer steps (each process its share of the global batch, DDP)
  janus   SFT and DPO: the whole causal model's steps under TRL's Trainers (Accelerate, DDP);
          examples per second of each stage, from its first step's report to the next stage's

    .venv/bin/python bench/distributed.py [--method pal|janus] [--processes 1 2] [--device cpu|cuda] [--model FOLDER]

On the CPU (gloo) each process gets one thread, so 1 and 2 processes use 1 and 2 cores; on a busy
shared machine the figures move from run to run. `--device cuda` runs one process per GPU (NCCL) on
a GPU machine: `--processes 1` there gives the 1-GPU figures. --model reads a real model folder
instead of the random 2-layer test Llama.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_workers.launcher import Placement, ranks_train
from tests.support.tiny_models import build_tiny_llama
from training.methods import janus, pal, toys
from training.methods.common.contract import RunInputs


class Timing:
    """Hooks that note when each stage's progress reports begin and end."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.lines: list[str] = []

    def progress(self, fraction: float, *, stage: str) -> None:
        now = time.monotonic()
        self.first.setdefault(stage, now)
        self.last[stage] = now

    def metrics(self, step, values) -> None:  # type: ignore[no-untyped-def]
        pass

    def log(self, message: str) -> None:
        self.lines.append(message)

    def check_cancelled(self) -> None:
        pass

    def seconds(self, stage: str, until: str) -> float:
        return self.first[until] - self.first[stage]


def run(processes: int, *, device: str, base: Path, pairs: list, config: pal.Config, folder: Path) -> dict[str, float]:
    for sub in ("work", "out"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    data = folder / "preferences.jsonl"
    data.write_text("".join(json.dumps(asdict(p)) + "\n" for p in pairs))
    inputs = RunInputs(run_id=0, base_model=str(base), dataset={"preferences.jsonl": data, "users.jsonl": data},
                       work_dir=folder / "work", output_dir=folder / "out", device=device, bf16=False)
    timing = Timing()
    ranks_train(method="pal", config=config, inputs=inputs, placement=Placement(processes=processes),
                folder=folder / "ranks", hooks=timing, stop=threading.Event(), why=lambda: "")
    texts = len({pal.format_text(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)})
    return {"features_per_s": texts / timing.seconds("reading responses", "training"),
            "pairs_per_s": config.steps * config.batch_size / timing.seconds("training", "evaluating")}


def run_janus(processes: int, *, device: str, base: Path, config: janus.Config, folder: Path) -> dict[str, float]:
    for sub in ("work", "out"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    data = folder / "preferences.jsonl"
    data.write_text("".join(json.dumps(asdict(p)) + "\n" for p in toys.system_message_pairs(64, 12, seed=0)))
    inputs = RunInputs(run_id=0, base_model=str(base), dataset={"preferences.jsonl": data, "users.jsonl": data},
                       work_dir=folder / "work", output_dir=folder / "out", device=device, bf16=False)
    timing = Timing()
    each = replace(config, per_device_batch_size=config.per_device_batch_size // processes)  # the same global batch
    ranks_train(method="janus", config=each, inputs=inputs, placement=Placement(processes=processes),
                folder=folder / "ranks", hooks=timing, stop=threading.Event(), why=lambda: "")
    return {"sft_per_s": config.sft_steps * config.per_device_batch_size / timing.seconds("SFT", "DPO"),
            "dpo_per_s": config.dpo_steps * config.per_device_batch_size / timing.seconds("DPO", "evaluating")}


def main_janus(args: argparse.Namespace) -> None:
    config = replace(janus.Config.tiny(), sft_steps=args.steps, dpo_steps=args.steps, per_device_batch_size=16,
                     logging_steps=args.steps, save_steps=args.steps, eval_fraction=0.05)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.model or build_tiny_llama(Path(tmp) / "tiny-llama")
        print(f"Janus on {args.device}: {config.sft_steps} SFT and {config.dpo_steps} DPO steps of "
              f"{config.per_device_batch_size} examples (the global batch), base model {base}")
        rates = {n: run_janus(n, device=args.device, base=base, config=config, folder=Path(tmp) / f"p{n}")
                 for n in args.processes}
    one = rates.get(1)
    print(f"{'processes':>9} {'SFT ex/s':>9} {'DPO pairs/s':>12} {'efficiency (SFT, DPO)':>23}")
    for n, r in rates.items():
        eff = f"{r['sft_per_s'] / (n * one['sft_per_s']):.0%}, {r['dpo_per_s'] / (n * one['dpo_per_s']):.0%}" if one else "-"
        print(f"{n:>9} {r['sft_per_s']:>9.1f} {r['dpo_per_s']:>12.1f} {eff:>23}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("pal", "janus"), default="pal")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--model", type=Path, help="a model folder to read features with")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--steps", type=int, default=None, help="training steps (pal: 300; janus: 30 per stage)")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"  # one core per process on the CPU: the comparison is cores, not threads
    if args.method == "janus":
        args.steps = args.steps or 30
        return main_janus(args)
    args.steps = args.steps or 300
    pairs = toys.population(args.people, 12, seed=0)
    config = replace(pal.Config.tiny(), steps=args.steps, batch_size=1024, dim=256, prototypes=8,
                     logging_steps=args.steps, save_steps=args.steps, em_restarts=0, new_user_fraction=0.05)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.model or build_tiny_llama(Path(tmp) / "tiny-llama")
        print(f"PAL on {args.device}: {len(pairs)} pairs of {args.people} people, {config.steps} steps of "
              f"{config.batch_size} pairs (the global batch), base model {base}")
        rates = {n: run(n, device=args.device, base=base, pairs=pairs, config=config, folder=Path(tmp) / f"p{n}")
                 for n in args.processes}
    one = rates.get(1)
    print(f"{'processes':>9} {'features/s':>11} {'pairs/s':>10} {'efficiency (features, pairs)':>30}")
    for n, r in rates.items():
        eff = (f"{r['features_per_s'] / (n * one['features_per_s']):.0%}, {r['pairs_per_s'] / (n * one['pairs_per_s']):.0%}"
               if one else "-")
        print(f"{n:>9} {r['features_per_s']:>11.1f} {r['pairs_per_s']:>10.0f} {eff:>30}")


if __name__ == "__main__":
    main()
