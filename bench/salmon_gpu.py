"""A SALMON run with a real small model: the bundled SmolLM2-135M-Instruct, converted from its GGUF
to a Hugging Face folder, is both the policy (it writes and judges the response pairs) and the base
of the reward model. It calls the method's own `train()`, the function a `gpu` worker runs, and
prints samples/s and peak GPU memory for each stage.

    .venv/bin/python bench/salmon_gpu.py --quick            # here, on CPU: the same code, fewer steps
    python3 bench/salmon_gpu.py --gguf FILE --out DIR       # on a GPU machine (bench/gpu/README.md)

No Django and no database: the GPU machine has neither, so the worker's hooks are replaced by ones
that print. Stages: generation (responses written), judging (A/B logprob verdicts, both orders per
principle), training (preference pairs through the reward model: steps x batch).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from training.methods import salmon, toys
from training.methods.common.contract import RunInputs

# Questions where principles like the toy ones (concise, kind) make a difference.
PROMPTS = [f"How do I {topic}?" for topic in toys.TOPICS] + [
    "What should I say to a friend who failed an exam?", "Explain what a budget is.",
    "Is it rude to leave a party early?", "How do I tell my boss I am overworked?",
    "What is a good first pet?", "How can I get better at chess?", "Why is the sky blue?",
    "How do I apologise to my sister?",
]


class PrintingHooks:
    def __init__(self) -> None:
        self.stage, self.started = "", time.monotonic()

    def progress(self, fraction: float, *, stage: str) -> None:
        if stage != self.stage:
            print(f"[{time.monotonic() - self.started:7.1f} s] {stage}", flush=True)
            self.stage = stage

    def metrics(self, step, values) -> None:  # type: ignore[no-untyped-def]
        print(f"    step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()), flush=True)

    def log(self, message: str) -> None:
        print(f"    {message}", flush=True)

    def check_cancelled(self) -> None:
        pass


def model_folder(args: argparse.Namespace, scratch: Path) -> Path:
    if args.model:
        return Path(args.model)
    if args.gguf:
        return converted(Path(args.gguf), scratch / "smollm2-135m-instruct")
    from chorus.inference import local

    return local.prepare_local_model(Path.home() / ".cache" / "chorus" / "models").path


def converted(gguf: Path, target: Path) -> Path:
    """What chorus.inference.local does with the bundled GGUF. On the GPU machine that module can't
    be imported: the `chorus` package loads Celery, which is not installed there."""
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"quantization_config": transformers.GgufConfig(dequantize=True)} if hasattr(transformers, "GgufConfig") else {}
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(target)
    AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, **kwargs).save_pretrained(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a Hugging Face model folder (default: the bundled SmolLM2)")
    parser.add_argument("--gguf", help="convert this GGUF file instead of the bundled package's")
    parser.add_argument("--quick", action="store_true", help="a few steps, for a CPU")
    parser.add_argument("--out", help="folder for salmon_gpu.json")
    args = parser.parse_args()

    import datasets
    import torch
    import transformers

    from gpu_workers.devices import best_device, describe_device, supports_bf16

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    device = best_device()
    config = salmon.Config(
        max_steps=8 if args.quick else 300, per_device_batch_size=4 if args.quick else 32,
        learning_rate=1e-5, max_length=512, principles_per_example=2, pairs_per_prompt=1 if args.quick else 8,
        max_new_tokens=32 if args.quick else 96, eval_fraction=0.2, save_steps=1000, logging_steps=4 if args.quick else 25,
    )
    prompts = PROMPTS[:10] if args.quick else PROMPTS
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        started = time.monotonic()
        folder = model_folder(args, tmp_path)
        prepare_seconds = time.monotonic() - started
        dataset = {"principles.jsonl": tmp_path / "principles.jsonl", "prompts.jsonl": tmp_path / "prompts.jsonl"}
        dataset["principles.jsonl"].write_text("".join(json.dumps(asdict(p)) + "\n" for p in toys.PRINCIPLES))
        dataset["prompts.jsonl"].write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
        for name in ("work", "out"):
            (tmp_path / name).mkdir()
        inputs = RunInputs(run_id=0, base_model=str(folder), dataset=dataset, work_dir=tmp_path / "work",
                           output_dir=tmp_path / "out", device=device, bf16=supports_bf16(device))
        print(f"device {describe_device()}, bf16 {inputs.bf16}, torch {torch.__version__}, "
              f"transformers {transformers.__version__}; model ready in {prepare_seconds:.1f} s", flush=True)
        started = time.monotonic()
        result = salmon.train(inputs, config, PrintingHooks())
        total = time.monotonic() - started

    summary = dict(result.summary)
    print(f"\nSALMON with SmolLM2-135M-Instruct as policy and reward-model base, on {describe_device()}")
    print(f"{len(prompts)} prompts x {config.pairs_per_prompt} pairs, {config.principles_per_example} principles "
          f"per pair; reward model {config.max_steps} steps x batch {config.per_device_batch_size}; {total:.1f} s in all\n")
    print(f"{'stage':<12}{'samples/s':>12}{'peak GPU memory':>18}")
    for stage in ("generation", "judging", "training"):
        peak = summary.get(f"{stage}_peak_gpu_memory_gib")
        print(f"{stage:<12}{summary[f'{stage}_samples_per_second']:>12.1f}"
              f"{f'{peak:.2f} GiB' if peak is not None else 'n/a (CPU)':>18}")
    print(f"\nexamples kept {summary['examples']} of {len(prompts) * config.pairs_per_prompt} pairs; metrics "
          + ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items()))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "salmon_gpu.json").write_text(json.dumps(
            {"device": describe_device(), "config": asdict(config), "seconds": total,
             "metrics": dict(result.metrics), "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
