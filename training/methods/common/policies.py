"""The policy model a method samples from and asks for answer logprobs: vLLM on a CUDA worker that
has it installed (the `gpu` extra), else transformers on the run's device, or, with backend
"openai", an OpenAI-compatible server that many workers share. No Django here.

    policy = load_policy(path, device="cuda", bf16=True)             # or backend="openai", server=...
    replies = policy.batch(conversations, max_tokens=128, temperature=0.9, seed=0)
    scores = policy.choice_logprobs(conversations, ["A", "B"])   # [[logp(A), logp(B)], ...]
    policy.close()                                                # hands the GPU back for training

Each does the whole list in one call: vLLM schedules it as one batch, transformers in chunks, and
the server gets one request per conversation, a few at a time.
"""
from __future__ import annotations

import gc
import importlib.util
import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from training.methods.common.contract import PolicyServer

Conversation = list[dict[str, str]]
_T = TypeVar("_T")


class Policy(Protocol):
    name: str

    def batch(self, conversations: Sequence[Conversation], *, max_tokens: int = 128, temperature: float = 0.0,
              top_p: float = 1.0, seed: int | None = None) -> list[str]: ...

    def choice_logprobs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        """For each conversation, the logprob of each candidate as the whole reply's first token."""

    def close(self) -> None: ...


def load_policy(path: str, *, device: str, bf16: bool, backend: str = "worker",
                server: PolicyServer | None = None) -> Policy:
    """backend "worker": the model in folder `path`, on this worker's device; "openai": whatever model
    `server` serves (`path` is not read)."""
    if backend == "openai":
        if server is None:
            raise PolicyServerError("the run asks for policy_backend 'openai' but this worker has no policy server; "
                                    f"set {BASE_URL_SETTING} in its environment")
        return OpenAIPolicy(server)
    if device == "cuda" and importlib.util.find_spec("vllm") is not None:
        return VllmPolicy(path, bf16=bf16)
    return TransformersPolicy(path, device=device, bf16=bf16)


class TransformersPolicy:
    """A causal LM on one device: left-padded batches for sampling and for next-token logprobs.

    Conversations go through in chunks: 16 on a CPU, 64 on a GPU, where a 135M model wrote several
    times as many responses per second as at 16 (bench/policy_batch.py; docs/training.md says how
    far that one run can be read). A chunk that runs out of GPU memory is halved and tried again, so
    a large policy model still gets through."""

    name = "transformers"

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
        self.chunk = 64 if device == "cuda" else 16  # conversations per forward pass

    def _in_chunks(self, conversations: Sequence[Conversation], run: Callable[[dict[str, Any]], list[_T]]) -> list[_T]:
        """run(padded batch) over the conversations, `self.chunk` at a time; halves the chunk on
        running out of GPU memory (and keeps it halved for later calls)."""
        import torch

        out: list[_T] = []
        start = 0
        while start < len(conversations):
            part = conversations[start : start + self.chunk]
            try:
                out += run(self._padded(part))
                start += len(part)
                continue
            except torch.cuda.OutOfMemoryError:
                if self.chunk == 1:
                    raise
            # Outside the handler: the error's traceback, which holds the failed pass's tensors, is gone.
            self.chunk //= 2
            torch.cuda.empty_cache()
        return out

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

        def sample(encoded: dict[str, Any]) -> list[str]:
            with torch.inference_mode():
                out = self.model.generate(
                    **encoded, max_new_tokens=max_tokens, do_sample=temperature > 0,
                    temperature=temperature or None, top_p=top_p, pad_token_id=self.tokenizer.pad_token_id,
                )  # (N, P + new)
            prompt_len = encoded["input_ids"].shape[1]
            return [self.tokenizer.decode(row[prompt_len:], skip_special_tokens=True).strip() for row in out]

        return self._in_chunks(conversations, sample)

    def choice_logprobs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        import torch

        token_ids = [_single_token(self.tokenizer.encode(c, add_special_tokens=False), c) for c in candidates]

        def score(encoded: dict[str, Any]) -> list[list[float]]:
            with torch.inference_mode():
                last = self.model(**encoded).logits[:, -1]  # (N, V): the next token after each prompt
            return torch.log_softmax(last.float(), -1)[:, token_ids].tolist()  # (N, len(candidates))

        return self._in_chunks(conversations, score)

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


BASE_URL_SETTING = "CHORUS_POLICY_BASE_URL"  # the platform's name for PolicyServer.base_url, for messages


class PolicyServerError(RuntimeError):
    """The policy server is missing, unreachable or refused a request; the message names the setting."""


def served_model(server: PolicyServer, *, timeout_s: float = 5.0) -> str:
    """Which model to ask `server` for, once it has answered GET /models within `timeout_s`: the
    configured one if the server lists it, else the only one it lists."""
    url = server.base_url.rstrip("/")
    request = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {server.api_key or 'none'}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            listed = [m["id"] for m in json.load(response)["data"]]
    except urllib.error.HTTPError as error:
        hint = "CHORUS_POLICY_API_KEY" if error.code in (401, 403) else BASE_URL_SETTING
        raise PolicyServerError(f"the policy server {url} answered {error.code} to GET /models; check {hint}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:  # URLError and timeouts are OSErrors
        raise PolicyServerError(f"the policy server {url} did not answer GET /models within {timeout_s:g} s "
                                f"({_reason(error)}); start it or point {BASE_URL_SETTING} at a running one") from None
    if server.model:
        if server.model not in listed:
            raise PolicyServerError(f"the policy server {url} does not serve {server.model!r} (it serves "
                                    f"{', '.join(listed) or 'nothing'}); fix CHORUS_POLICY_MODEL")
        return server.model
    if len(listed) != 1:
        raise PolicyServerError(f"the policy server {url} serves {', '.join(listed) or 'nothing'}; "
                                "set CHORUS_POLICY_MODEL to the one runs should use")
    return listed[0]


class OpenAIPolicy:
    """The model an OpenAI-compatible server serves (vLLM's `vllm serve`, llama.cpp's server), so that
    many workers share one copy of it. The server applies the chat template.

    One request per conversation, at most `server.max_in_flight` at once (the server batches what
    arrives together). The openai client retries connection errors, timeouts, 408, 409, 429 and 5xx
    RETRIES times with exponential backoff (0.5 s doubling to 8 s, less up to 25% jitter); a connection
    times out after 5 s, so a server that has gone away fails the call within a minute.

    Judging reads the first reply token's `top_logprobs` (TOP_LOGPROBS of them, the most the OpenAI
    API allows and vLLM's default cap). A candidate outside them gets the tightest upper bound the
    answer allows: the lower of the k-th logprob and the log of the mass the top k leave over.
    """

    RETRIES = 4
    TOP_LOGPROBS = 20
    JUDGE_TIMEOUT_S = 30.0  # one token
    WRITE_TIMEOUT_S = 300.0  # a long reply from a busy shared server

    def __init__(self, server: PolicyServer) -> None:
        from openai import OpenAI, Timeout

        self.server = server
        self.model = served_model(server)
        self.name = f"the server at {server.base_url} ({self.model})"
        self.client = OpenAI(base_url=server.base_url, api_key=server.api_key or "none", max_retries=self.RETRIES,
                             timeout=Timeout(self.WRITE_TIMEOUT_S, connect=5.0))

    def batch(self, conversations: Sequence[Conversation], *, max_tokens: int = 128, temperature: float = 0.0,
              top_p: float = 1.0, seed: int | None = None) -> list[str]:
        def write(i: int, conversation: Conversation) -> str:
            # seed + i: the same seed for two copies of one prompt would give them the same reply.
            extra = {} if seed is None else {"seed": seed + i}
            reply = self._create(conversation, max_tokens=max_tokens, temperature=temperature, top_p=top_p, **extra)
            return (reply.choices[0].message.content or "").strip()

        return self._each(conversations, write)

    def choice_logprobs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        def judge(i: int, conversation: Conversation) -> list[float]:
            reply = self._create(conversation, max_tokens=1, temperature=0.0, logprobs=True,
                                 top_logprobs=self.TOP_LOGPROBS, timeout=self.JUDGE_TIMEOUT_S)
            logprobs = reply.choices[0].logprobs
            if not logprobs or not logprobs.content:
                raise PolicyServerError(f"the policy server {self.server.base_url} returned no logprobs; judging "
                                        "needs a server that honours logprobs and top_logprobs on chat completions")
            top: dict[str, float] = {}
            for entry in logprobs.content[0].top_logprobs:  # one token text may come from several token ids
                top[entry.token] = max(top.get(entry.token, -math.inf), entry.logprob)
            left = 1.0 - sum(math.exp(lp) for lp in top.values())
            floor = min(min(top.values()), math.log(left)) if left > 0 else min(top.values())
            return [top.get(c, floor) for c in candidates]

        return self._each(conversations, judge)

    def _each(self, conversations: Sequence[Conversation], one: Callable[[int, Conversation], _T]) -> list[_T]:
        with ThreadPoolExecutor(self.server.max_in_flight, thread_name_prefix="policy-server") as pool:
            futures = [pool.submit(one, i, [dict(m) for m in c]) for i, c in enumerate(conversations)]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:  # the first failure ends the call: queued requests are not sent
                    f.cancel()
                raise

    def _create(self, conversation: Conversation, **params: Any) -> Any:
        import openai

        try:
            return self.client.chat.completions.create(model=self.model, messages=conversation, **params)
        except openai.APIConnectionError as error:  # timeouts included; raised once the retries are spent
            raise PolicyServerError(
                f"the policy server {self.server.base_url} stopped answering ({_reason(error)}, "
                f"{self.RETRIES} retries); restart it or point {BASE_URL_SETTING} at a running one") from None
        except openai.APIStatusError as error:
            raise PolicyServerError(f"the policy server {self.server.base_url} ({BASE_URL_SETTING}) refused the "
                                    f"request: {error.message}") from None  # "Error code: 503 - ..."

    def close(self) -> None:
        self.client.close()


def _reason(error: BaseException) -> str:
    """The innermost cause, e.g. 'Connection refused', rather than a client's generic wrapper text."""
    while isinstance(inner := error.__cause__ or getattr(error, "reason", None), BaseException):
        error = inner  # urllib keeps the socket error in .reason, the openai client in __cause__
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _single_token(ids: list[int], text: str) -> int:
    if len(ids) != 1:
        raise ValueError(f"candidate {text!r} is {len(ids)} tokens for this tokenizer; answers must be one token")
    return ids[0]
