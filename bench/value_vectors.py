"""Value-vector throughput (items/s) for the bundled SmolLM2: transformers, and vLLM where installed.

Scores the first N items of every ProgressGym dimension (`--per-dim`) with each backend available on
this machine and prints items/s, questions/s and the largest difference between the backends'
vectors. On a CPU-only machine only "hf" runs; on a GPU worker with the `gpu` extra both do.

    .venv/bin/python bench/value_vectors.py --per-dim 4 [--device cuda] [--batch-size 32]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "platform")]

from chorus.inference.local import prepare_local_model
from elicitation.domain.surveys import load_templates, option_orders, select_items
from training.progress.vectors import value_vector


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-dim", type=int, default=4, help="items per dimension (views: world-view items)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    cache = Path(os.environ.get("CHORUS_MODEL_CACHE", Path.home() / ".cache" / "chorus" / "models"))
    model = prepare_local_model(cache).path
    items = select_items(max_items_per_dim=args.per_dim)
    templates = load_templates()
    questions = sum(len(templates[len(i.options)]) * len(option_orders(len(i.options))) for i in items)
    backends = ["hf"] + (["vllm"] if importlib.util.find_spec("vllm") and args.device != "cpu" else [])
    print(f"model {model.name}, {len(items)} items, {questions} questions")
    print(f"{'backend':8s} {'seconds':>8s} {'items/s':>8s} {'questions/s':>12s}")
    results = {}
    for backend in backends:
        start = time.perf_counter()
        results[backend] = value_vector(model, items=items, batch_size=args.batch_size, backend=backend,
                                        device=args.device)
        seconds = time.perf_counter() - start
        print(f"{backend:8s} {seconds:8.1f} {len(items) / seconds:8.2f} {questions / seconds:12.2f}")
    if len(results) == 2:
        gap = abs(results["hf"].mean - results["vllm"].mean).max()
        print(f"largest difference between the backends' vectors: {gap:.4f}")


if __name__ == "__main__":
    main()
