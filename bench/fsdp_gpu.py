"""FSDP against DDP on GPUs, for the TRL methods' `sharding` setting: the same Janus run (SFT, then
DPO; the TRL stages SALMON and the trackers share) through the worker's own launcher
(gpu_workers/launcher.py: torchrun, NCCL), once with sharding ddp and once with fsdp, from the same
seed and global batch. Prints the held-out metrics of both, the largest gap between their loss
curves, whether the published fsdp model loads with from_pretrained, and the seconds each took;
writes them to DIR/fsdp_gpu.json.

    python3 bench/fsdp_gpu.py [--processes N] [--model FOLDER] [--out DIR]

FSDP runs on GPUs only (Accelerate does not shard on the CPU, and Chorus refuses fsdp on a CPU
worker), so this is the check for a GPU machine (bench/gpu/README.md). N defaults to every GPU. With
one GPU, FSDP holds the model in one shard: the run checks the code path (sharded training, the
shards gathered on the writer, the model published) but not the memory saved, and Chorus itself
refuses fsdp with one process. --model trains a real model folder instead of the 2-layer test Llama.
No Django and no database: the worker's hooks are replaced by ones that record.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from gpu_workers.launcher import Placement, ranks_train
from tests.support.tiny_models import build_tiny_llama
from training.methods import janus, toys
from training.methods.common.contract import RunInputs


class Recording:
    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def progress(self, fraction: float, *, stage: str) -> None:
        pass

    def metrics(self, step, values) -> None:  # type: ignore[no-untyped-def]
        if "loss" in values:
            self.losses[step] = float(values["loss"])

    def log(self, message: str) -> None:
        print(" ", message, flush=True)

    def check_cancelled(self) -> None:
        pass


def run(sharding: str, *, processes: int, base: Path, config: janus.Config, folder: Path) -> dict:
    for sub in ("work", "out"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    data = folder / "preferences.jsonl"
    data.write_text("".join(json.dumps(asdict(p)) + "\n" for p in toys.system_message_pairs(16, 12, seed=0)))
    inputs = RunInputs(run_id=0, base_model=str(base), dataset={"preferences.jsonl": data, "users.jsonl": data},
                       work_dir=folder / "work", output_dir=folder / "out", device="cuda", bf16=False)
    hooks, started = Recording(), time.monotonic()
    result = ranks_train(method="janus", config=replace(config, sharding=sharding), inputs=inputs,
                         placement=Placement(processes=processes), folder=folder / "ranks", hooks=hooks,
                         stop=threading.Event(), why=lambda: "")
    return {"metrics": result.metrics, "losses": hooks.losses, "seconds": round(time.monotonic() - started, 1),
            "output": str(inputs.output_dir)}


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=torch.cuda.device_count())
    parser.add_argument("--model", type=Path, help="a model folder to train instead of the test Llama")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    if not torch.cuda.is_available() or args.processes < 1:
        sys.exit("fsdp_gpu.py needs CUDA GPUs: FSDP does not run on the CPU (see the docstring)")
    config = replace(janus.Config.tiny(), sft_steps=20, dpo_steps=40, logging_steps=5, save_steps=20,
                     per_device_batch_size=max(1, 8 // args.processes), eval_fraction=0.3)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.model or build_tiny_llama(Path(tmp) / "tiny-llama")
        print(f"Janus on {args.processes} GPU(s) ({torch.cuda.get_device_name(0)}), global batch "
              f"{config.per_device_batch_size * args.processes}, base model {base}", flush=True)
        runs = {s: run(s, processes=args.processes, base=base, config=config, folder=Path(tmp) / s)
                for s in ("ddp", "fsdp")}
        AutoModelForCausalLM.from_pretrained(runs["fsdp"]["output"])  # the gathered model loads like any other
    ddp, fsdp = runs["ddp"], runs["fsdp"]
    gap = max(abs(ddp["losses"][s] - fsdp["losses"][s]) for s in ddp["losses"])
    report = {"processes": args.processes, "gpu": torch.cuda.get_device_name(0), "ddp": ddp, "fsdp": fsdp,
              "largest_loss_gap": gap, "fsdp_model_loads": True,
              "metric_gaps": {k: abs(ddp["metrics"][k] - fsdp["metrics"][k]) for k in ddp["metrics"]}}
    for name, r in runs.items():
        print(f"{name:>5}: {r['seconds']:>6} s  {r['metrics']}")
    print(f"largest loss gap {gap:.2e}; metric gaps {report['metric_gaps']}; the fsdp model loads")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fsdp_gpu.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
