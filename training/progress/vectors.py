"""A model's 19-dimensional ProgressGym value vector, from answer log-probabilities. No Django.

    vector = value_vector("/path/to/hf-model", max_items_per_dim=20)
    vector.mean, vector.low, vector.high          # (19,) each, every value in [0, 1]

How an item is scored, as ProgressGym's evaluation does with log-probabilities: the item is put to
the model under each of its templates (two-option items: `ab`, `compare`, `repeat`; four-option
items: `4c_fav`, `repeat2_fav`) and in each option order (both orders; for four options the four
rotations). For each such question the model's log-probability of every allowed answer ("[A]",
"yes", the option's own words, ...) is summed over the answer's tokens, and a softmax over those
answers gives the probability of each option. The item's probabilities are the mean over templates
and orders, which cancels the model's bias towards a position or a letter. A dimension is the mean
over its items (see `elicitation/domain/surveys.py` for orientation and range), with a 95 % percentile
bootstrap interval over items (seeded: the same model gives the same numbers every time).

Backends: "hf" (transformers, batched, CPU or CUDA) everywhere; "vllm" on a GPU worker where vllm
is importable, asking for prompt log-probabilities of the same token sequences. The vLLM path has
not been run in development (no GPU there); the tests exercise "hf".
"""
from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elicitation.domain.surveys import (
    DIMENSIONS,
    Item,
    Observation,
    ValueVector,
    load_templates,
    observations_for_choice,
    option_orders,
    select_items,
    value_vector_from_observations,
)

__all__ = ["DIMENSIONS", "ValueVector", "value_vector", "item_probabilities", "default_backend"]


@dataclass(frozen=True)
class _Question:
    item: int  # index into the items being scored
    shown: tuple[int, ...]  # shown[position] = the item's option index shown there
    prompt: str
    answers: tuple[str, ...]  # the answer that picks each shown position


def _questions(items: Sequence[Item]) -> list[_Question]:
    templates = load_templates()
    questions = []
    for index, item in enumerate(items):
        for template in templates[len(item.options)]:
            for shown in option_orders(len(item.options)):
                options = [item.options[k] for k in shown]
                questions.append(_Question(index, shown, template.prompt(item.context, options),
                                           template.answers(options)))
    return questions


def default_backend(device: str) -> str:
    return "vllm" if device == "cuda" and importlib.util.find_spec("vllm") is not None else "hf"


def value_vector(model_dir: str | Path, *, items: Sequence[Item] | None = None, max_items_per_dim: int | None = None,
                 batch_size: int = 16, backend: str = "hf", device: str | None = None, seed: int = 0) -> ValueVector:
    """The value vector of the causal LM in `model_dir` (any Hugging Face folder with a tokenizer).

    `items` defaults to every item; `max_items_per_dim` keeps the first n of each dimension (views:
    the first n world-view items), which still covers all 19 dimensions.
    """
    chosen = select_items(items, max_items_per_dim=max_items_per_dim)
    probabilities = item_probabilities(model_dir, chosen, batch_size=batch_size, backend=backend, device=device)
    observations: list[Observation] = []
    for item, probs in zip(chosen, probabilities, strict=True):
        observations += observations_for_choice(item.id, item, probs)
    return value_vector_from_observations(observations, seed=seed)


def item_probabilities(model_dir: str | Path, items: Sequence[Item], *, batch_size: int = 16, backend: str = "hf",
                       device: str | None = None) -> list[np.ndarray]:
    """For each item, the model's probability of each of its options (in the item's own order)."""
    if backend not in ("hf", "vllm"):
        raise ValueError(f"unknown backend {backend!r}: 'hf' or 'vllm'")
    questions = _questions(items)
    scorer = _HFScorer(str(model_dir), device=device)
    encoded = [(scorer.prompt_ids(q.prompt), [scorer.answer_ids(a) for a in q.answers]) for q in questions]
    if backend == "vllm":
        scorer.close()
        logprobs = _vllm_logprobs(str(model_dir), encoded)
    else:
        logprobs = scorer.question_logprobs(encoded, batch_size=batch_size)
        scorer.close()

    totals = [np.zeros(len(item.options)) for item in items]
    counts = [0] * len(items)
    for q, answer_lp in zip(questions, logprobs, strict=True):
        lp = np.array(answer_lp)
        p = np.exp(lp - lp.max())
        p /= p.sum()
        for position, option in enumerate(q.shown):
            totals[q.item][option] += p[position]
        counts[q.item] += 1
    return [t / c for t, c in zip(totals, counts, strict=True)]


class _HFScorer:
    """Summed log-probabilities of answer tokens after a prompt, with transformers.

    Prompts are left-padded into batches (position ids follow the mask, so padding does not move
    them), run once, and only the last position's logits kept; the answers then run on copies of
    their prompt's key/value cache. Questions are sorted by prompt length into batches in a fixed
    order, so a repeat gives the same numbers.
    """

    def __init__(self, model_dir: str, *, device: str | None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model: Any = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(self.device).eval()
        # transformers 5.x renamed `past_key_values` to `cache` (the old name warns, then goes).
        parameters = inspect.signature(self.model.forward).parameters
        self.cache_argument = "cache" if "cache" in parameters else "past_key_values"
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)

    def prompt_ids(self, text: str) -> list[int]:
        if self.tokenizer.chat_template:
            return list(self.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=True,
                                                           add_generation_prompt=True, return_dict=False))
        return list(self.tokenizer(f"{text}\nAnswer: ").input_ids)

    def answer_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def question_logprobs(self, questions: Sequence[tuple[list[int], list[list[int]]]], *,
                          batch_size: int) -> list[list[float]]:
        """For each (prompt ids, [answer ids, ...]): each answer's summed token log-probability.

        The prompt is run once; its key/value cache is copied to each of its answers, which are
        then run together (right-padded) on top of it.
        """
        import torch

        order = sorted(range(len(questions)), key=lambda i: (len(questions[i][0]), i))
        result: list[list[float]] = [[] for _ in questions]
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(questions[i][0]) for i in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)  # (B, P), left-padded
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                prompt = questions[i][0]
                ids[row, width - len(prompt) :] = torch.tensor(prompt)
                mask[row, width - len(prompt) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            rows = [(row, answer) for row, i in enumerate(chunk) for answer in questions[i][1]]
            owner = torch.tensor([row for row, _ in rows])
            length = max(len(answer) for _, answer in rows)
            answer_ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)  # (N, A), right-padded
            answer_mask = torch.zeros((len(rows), length), dtype=torch.long)
            for n, (_, answer) in enumerate(rows):
                answer_ids[n, : len(answer)] = torch.tensor(answer)
                answer_mask[n, : len(answer)] = 1
            with torch.inference_mode():
                out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                 position_ids=positions.to(self.device), use_cache=True, logits_to_keep=1)
                first = torch.log_softmax(out.logits[:, -1].float(), dim=-1).cpu()  # (B, V): the answer's first token
                cache = out.past_key_values
                cache.reorder_cache(owner.to(self.device))  # one copy of its prompt's cache per answer
                logits = self.model(
                    input_ids=answer_ids.to(self.device),
                    attention_mask=torch.cat([mask[owner], answer_mask], dim=1).to(self.device),
                    position_ids=(positions[owner, -1:] + 1 + torch.arange(length)).to(self.device),
                    use_cache=False, **{self.cache_argument: cache},
                ).logits.float()  # (N, A, V): logits[:, j] predicts answer token j + 1
                following = answer_ids[:, 1:].to(self.device)  # (N, A-1)
                token_lp = (logits[:, :-1].gather(-1, following.unsqueeze(-1)).squeeze(-1)
                            - torch.logsumexp(logits[:, :-1], dim=-1)).cpu()  # (N, A-1)
            for n, (row, answer) in enumerate(rows):
                total = first[row, answer[0]] + token_lp[n, : len(answer) - 1].sum()
                result[chunk[row]].append(float(total))
        return result

    def close(self) -> None:
        import gc

        import torch

        del self.model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _vllm_logprobs(model_dir: str, questions: Sequence[tuple[list[int], list[list[int]]]]) -> list[list[float]]:
    """The same sums from vLLM's prompt log-probabilities of prompt + answer. Untested in
    development (no GPU there)."""
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    llm = LLM(model=model_dir, seed=0, dtype="float32")
    params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
    flat = [(prompt + answer, len(prompt)) for prompt, answers in questions for answer in answers]
    outputs = llm.generate([TokensPrompt(prompt_token_ids=ids) for ids, _ in flat], params, use_tqdm=False)
    sums = []
    for output, (ids, n_prompt) in zip(outputs, flat, strict=True):
        per_position = output.prompt_logprobs  # [None, {token_id: Logprob}, ...], one per prompt token
        sums.append(float(sum(per_position[p][ids[p]].logprob for p in range(n_prompt, len(ids)))))
    del llm
    it = iter(sums)
    return [[next(it) for _ in answers] for _, answers in questions]
