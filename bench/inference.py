"""Time to first token and decode speed: the `local` backend against llama.cpp's server via `openai`.

Both serve the bundled SmolLM2-135M-Instruct: `local` runs the float32 model converted from the
GGUF with transformers, the server runs the Q4_1 GGUF itself. Same prompts, greedy, same run.

    .venv/bin/python bench/inference.py
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "platform"))

from chorus.inference import ChatBackend, InferenceConfig, make_backend
from chorus.inference.llama_server import llama_server
from chorus.inference.local import bundled_gguf, model_dir, prepare_local_model

MAX_TOKENS = 64
SERVED_MODEL = "SmolLM2-135M-Instruct"
PROMPTS = [
    "What is the capital of France?",
    "Give three rules for sharing a kitchen with housemates.",
    "Explain in two sentences why people disagree about fairness.",
]


@dataclass(frozen=True)
class Timing:
    ttft_s: float  # request sent -> first text piece
    tokens: int  # counted with the model's tokenizer, so both backends are counted alike
    total_s: float

    @property
    def decode_tokens_per_s(self) -> float:
        # Tokens after the first, over the time after the first: the steady generation speed.
        return (self.tokens - 1) / max(self.total_s - self.ttft_s, 1e-9)


def measure(backend: ChatBackend, prompt: str, tokenizer: Any) -> Timing:
    start = time.perf_counter()
    first = None
    pieces = []
    for piece in backend.stream([{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS, temperature=0.0):
        first = first or time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    tokens = len(tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
    return Timing((first or end) - start, tokens, end - start)


def warm_up(backend: ChatBackend) -> float:
    start = time.perf_counter()
    backend.complete([{"role": "user", "content": "Hi"}], max_tokens=2)
    return time.perf_counter() - start


def main() -> None:
    import torch
    from transformers import AutoTokenizer

    cache_dir = Path(os.environ.get("CHORUS_MODEL_CACHE", Path.home() / ".cache" / "chorus" / "models"))
    prepare_local_model(cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir(cache_dir))
    threads = os.cpu_count() or 1
    print(f"SmolLM2-135M-Instruct, {MAX_TOKENS} new tokens max, greedy; {threads} CPU threads for each backend")

    local = make_backend(InferenceConfig(backend="local", cache_dir=cache_dir))
    print(f"local: model load + first reply {warm_up(local):.1f} s (torch {torch.__version__}, float32)")
    local_timings = [measure(local, prompt, tokenizer) for prompt in PROMPTS]

    started = time.perf_counter()
    # llama.cpp defaults to half the cores; give it all of them, as torch has.
    with llama_server(bundled_gguf(), model_alias=SERVED_MODEL, n_threads=threads) as base_url:
        print(f"llama.cpp server: started in {time.perf_counter() - started:.1f} s (Q4_1 GGUF)")
        served = make_backend(InferenceConfig(backend="openai", base_url=base_url, model=SERVED_MODEL))
        warm_up(served)
        served_timings = [measure(served, prompt, tokenizer) for prompt in PROMPTS]

    print_table(local_timings, served_timings)


def print_table(local: list[Timing], served: list[Timing]) -> None:
    print()
    print(f"{'prompt':<34} | {'local (transformers)':^28} | {'openai -> llama.cpp server':^28}")
    print(f"{'':<34} | {'TTFT ms':>8} {'tokens':>7} {'tok/s':>9}  | {'TTFT ms':>8} {'tokens':>7} {'tok/s':>9}")
    print("-" * 96)
    for prompt, a, b in zip(PROMPTS, local, served):
        print(f"{prompt[:34]:<34} | {_cells(a)}  | {_cells(b)}")
    print("-" * 96)
    print(f"{'mean':<34} | {_mean_cells(local)}  | {_mean_cells(served)}")
    print(
        "\nTTFT: request to first text piece. transformers' streamer releases text a word at a time,"
        "\nso the local TTFT includes one or two tokens more than llama.cpp's token-by-token stream."
    )


def _cells(t: Timing) -> str:
    return f"{t.ttft_s * 1000:>8.0f} {t.tokens:>7d} {t.decode_tokens_per_s:>9.1f}"


def _mean_cells(timings: list[Timing]) -> str:
    n = len(timings)
    ttft = sum(t.ttft_s for t in timings) / n
    tokens = sum(t.tokens for t in timings) / n
    speed = sum(t.decode_tokens_per_s for t in timings) / n
    return f"{ttft * 1000:>8.0f} {tokens:>7.0f} {speed:>9.1f}"


if __name__ == "__main__":
    main()
