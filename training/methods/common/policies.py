"""The policy model a method samples from and asks for answer logprobs: vLLM on a CUDA worker that
has it installed (the `gpu` extra), else transformers on the run's device. No Django here.

    policy = load_policy(path, device="cuda", bf16=True)
    replies = policy.batch(conversations, max_tokens=128, temperature=0.9, seed=0)
    scores = policy.choice_logprobs(conversations, ["A", "B"])   # [[logp(A), logp(B)], ...]
    policy.close()                                                # hands the GPU back for training

Both do the whole list in one call: vLLM schedules it as one batch, transformers in chunks.
"""
from __future__ import annotations

import gc
import importlib.util
from collections.abc import Sequence
from typing import Any, Protocol

Conversation = list[dict[str, str]]


class Policy(Protocol):
    name: str

    def batch(self, conversations: Sequence[Conversation], *, max_tokens: int = 128, temperature: float = 0.0,
              top_p: float = 1.0, seed: int | None = None) -> list[str]: ...

    def choice_logprobs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        """For each conversation, the logprob of each candidate as the whole reply's first token."""

    def close(self) -> None: ...


def load_policy(path: str, *, device: str, bf16: bool) -> Policy:
    if device == "cuda" and importlib.util.find_spec("vllm") is not None:
        return VllmPolicy(path, bf16=bf16)
    return TransformersPolicy(path, device=device, bf16=bf16)


class TransformersPolicy:
    """A causal LM on one device: left-padded batches for sampling and for next-token logprobs."""

    name = "transformers"
    chunk = 16  # conversations per forward pass: long judge prompts times this must fit in memory

    def __init__(self, path: str, *, device: str, bf16: bool) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"  # both sampling and next-token scores read the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if bf16 else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
        self.device = device

    def _ids(self, messages: Conversation) -> list[int]:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                      return_dict=False)
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return self.tokenizer(text).input_ids

    def _padded(self, conversations: Sequence[Conversation]) -> dict[str, Any]:
        encoded = self.tokenizer.pad({"input_ids": [self._ids(c) for c in conversations]}, return_tensors="pt")
        return {k: v.to(self.device) for k, v in encoded.items()}  # (N, P) each, left-padded

    def batch(self, conversations: Sequence[Conversation], *, max_tokens: int = 128, temperature: float = 0.0,
              top_p: float = 1.0, seed: int | None = None) -> list[str]:
        import torch

        if seed is not None:
            torch.manual_seed(seed)
        replies = []
        for start in range(0, len(conversations), self.chunk):
            encoded = self._padded(conversations[start : start + self.chunk])
            with torch.inference_mode():
                out = self.model.generate(
                    **encoded, max_new_tokens=max_tokens, do_sample=temperature > 0,
                    temperature=temperature or None, top_p=top_p, pad_token_id=self.tokenizer.pad_token_id,
                )  # (N, P + new)
            prompt_len = encoded["input_ids"].shape[1]
            replies += [self.tokenizer.decode(row[prompt_len:], skip_special_tokens=True).strip() for row in out]
        return replies

    def choice_logprobs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        import torch

        token_ids = [_single_token(self.tokenizer.encode(c, add_special_tokens=False), c) for c in candidates]
        scores: list[list[float]] = []
        for start in range(0, len(conversations), self.chunk):
            encoded = self._padded(conversations[start : start + self.chunk])
            with torch.inference_mode():
                last = self.model(**encoded).logits[:, -1]  # (N, V): the next token after each prompt
            logprobs = torch.log_softmax(last.float(), -1)[:, token_ids]  # (N, len(candidates))
            scores += logprobs.tolist()
        return scores

    def close(self) -> None:
        import torch

        del self.model
        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()


class VllmPolicy:
    """vLLM's offline engine. Started with sleep mode so `close()` can release its weights and KV
    cache before the reward model trains on the same card."""

    name = "vllm"

    def __init__(self, path: str, *, bf16: bool) -> None:
        from vllm import LLM

        self.llm = LLM(model=path, dtype="bfloat16" if bf16 else "auto", enable_sleep_mode=True,
                       gpu_memory_utilization=0.6)
        self.tokenizer = self.llm.get_tokenizer()

    def batch(self, conversations: Sequence[Conversation], *, max_tokens: int = 128, temperature: float = 0.0,
              top_p: float = 1.0, seed: int | None = None) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed)
        outputs = self.llm.chat([list(c) for c in conversations], params, use_tqdm=False)
        return [o.outputs[0].text.strip() for o in outputs]

    def choice_logprobs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        from vllm import SamplingParams

        token_ids = [_single_token(self.tokenizer.encode(c, add_special_tokens=False), c) for c in candidates]
        prompts = [self.tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=True,
                                                      return_dict=False) for c in conversations]
        # Each prompt once per candidate, with the candidate appended; the one generated token is
        # thrown away. prompt_logprobs=0 returns, at every position, the logprob of the token there.
        outputs = self.llm.generate([{"prompt_token_ids": p + [t]} for p in prompts for t in token_ids],
                                    SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)
        flat = [o.prompt_logprobs[-1][t].logprob for o, t in zip(outputs, token_ids * len(prompts))]
        k = len(token_ids)
        return [flat[i : i + k] for i in range(0, len(flat), k)]

    def close(self) -> None:
        self.llm.sleep(level=2)  # drops weights and KV cache; this engine is not woken again
        del self.llm
        gc.collect()


def _single_token(ids: list[int], text: str) -> int:
    if len(ids) != 1:
        raise ValueError(f"candidate {text!r} is {len(ids)} tokens for this tokenizer; answers must be one token")
    return ids[0]
