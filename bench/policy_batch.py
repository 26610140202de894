"""How many conversations the transformers policy should put in one forward pass: SALMON's writing
(sampled responses) and judging (one next-token logprob per prompt) with `TransformersPolicy` at
several chunk sizes, side by side in one run, printing responses/s, verdicts/s and peak GPU memory.

    .venv/bin/python bench/policy_batch.py --quick                            # here, on CPU
    python3 bench/policy_batch.py --architecture FOLDER --chunks 16 64 256    # on a GPU machine

--model FOLDER reads a whole model (default: the bundled SmolLM2). --architecture FOLDER reads only
its config and tokenizer and starts from random weights: the arithmetic per token is the same, and
the GPU machine is too far for the weights to travel (bench/gpu/README.md). Random weights never
stop early, so every response runs to --max-tokens: the slowest case. Each chunk size runs once
untimed first, so that no row pays for allocating its shapes.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from training.methods import toys
from training.methods.common.policies import TransformersPolicy


def conversations(n: int, *, judging: bool) -> list[list[dict[str, str]]]:
    """SALMON-like requests: a question, or (judging) a principle, a question and two answers."""
    questions = [f"How do I {topic}?" for topic in toys.TOPICS]
    out = []
    for i in range(n):
        question = questions[i % len(questions)]
        if judging:
            answer = "First, read the steps carefully. Then gather what you need and go slowly. " * 3
            text = (f"Principle: prefer the more concise answer.\nQuestion: {question}\n(A) {answer}\n"
                    f"(B) {answer[: 40 + i % 60]}\nWhich answer follows the principle better? Reply A or B.")
        else:
            text = question
        out.append([{"role": "user", "content": text}])
    return out


def model_folder(args: argparse.Namespace, scratch: Path) -> Path:
    if args.model:
        return Path(args.model)
    if args.architecture:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.architecture))
        model.save_pretrained(scratch / "random")
        AutoTokenizer.from_pretrained(args.architecture).save_pretrained(scratch / "random")
        return scratch / "random"
    from chorus.inference import local

    return local.prepare_local_model(Path.home() / ".cache" / "chorus" / "models").path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a Hugging Face model folder (default: the bundled SmolLM2)")
    parser.add_argument("--architecture", help="a model folder whose config and tokenizer are used with random weights")
    parser.add_argument("--chunks", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--conversations", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--quick", action="store_true", help="a few small chunks, for a CPU")
    args = parser.parse_args()
    if args.quick:
        args.chunks, args.conversations, args.max_tokens = [4, 16], 16, 8

    import torch

    from gpu_workers.devices import best_device, describe_device, supports_bf16

    device = best_device()
    with tempfile.TemporaryDirectory() as tmp:
        policy = TransformersPolicy(str(model_folder(args, Path(tmp))), device=device, bf16=supports_bf16(device))
        writing, judging = conversations(args.conversations, judging=False), conversations(args.conversations, judging=True)
        print(f"{describe_device()}: {args.conversations} conversations, responses of {args.max_tokens} tokens")
        print(f"{'chunk':>6}{'responses/s':>14}{'verdicts/s':>13}{'peak GPU GiB':>14}{'vs first (write, judge)':>26}")
        first = None
        for chunk in args.chunks:
            policy.chunk = chunk
            policy.batch(writing[:chunk], max_tokens=2)  # untimed: this chunk's shapes allocated and tuned
            policy.choice_logprobs(judging[:chunk], ["A", "B"])
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            policy.batch(writing, max_tokens=args.max_tokens, temperature=0.9, seed=0)
            write = args.conversations / (time.perf_counter() - started)
            started = time.perf_counter()
            policy.choice_logprobs(judging, ["A", "B"])
            judge = args.conversations / (time.perf_counter() - started)
            peak = f"{torch.cuda.max_memory_allocated() / 2**30:.2f}" if device == "cuda" else "n/a"
            first = first or (write, judge)
            print(f"{chunk:>6}{write:>14.1f}{judge:>13.1f}{peak:>14}"
                  f"{f'{write / first[0]:.1f}x, {judge / first[1]:.1f}x':>26}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
