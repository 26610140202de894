"""In-process vLLM (`vllm.LLM`) for GPU workers: batched generation, schema-guided decoding, logprobs.

vLLM is only installed with the gpu extra, so it is imported when the backend is first used,
never when this module is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from chorus.inference import structured
from chorus.inference.base import ChatBackend, GenerationParams, InferenceConfig, InferenceError, JsonSchema, Message

# One engine per model per process: an LLM claims most of the GPU's memory when it starts.
_lock = threading.Lock()
_engines: dict[str, Any] = {}


def _engine(model: str) -> Any:
    with _lock:
        if model not in _engines:
            try:
                from vllm import LLM
            except ImportError:
                raise InferenceError(
                    "the 'vllm' backend needs vLLM, which is only installed on GPU workers: pip install .[gpu]"
                ) from None
            _engines[model] = LLM(model=model)
        return _engines[model]


class VLLMBackend(ChatBackend):
    name = "vllm"

    def __init__(self, config: InferenceConfig) -> None:
        if not config.model:
            raise InferenceError("the 'vllm' backend needs a model name or path (CHORUS_LLM_MODEL)")
        self._model = config.model

    def complete(self, messages: list[Message], *, json_schema: JsonSchema | None = None, **params: Any) -> str:
        first = GenerationParams.from_kwargs(params)
        if json_schema is None:
            return self._chat([messages], first)[0]
        return structured.generate_valid_json(lambda p: self._chat([messages], p, json_schema)[0], json_schema, first)

    def stream(self, messages: list[Message], **params: Any) -> Iterator[str]:
        # The offline engine has no token stream; the reply comes as one piece.
        yield self.complete(messages, **params)

    def batch(self, conversations: list[list[Message]], **params: Any) -> list[str]:
        # One call: vLLM schedules all conversations together, which is the point of this backend.
        return self._chat(conversations, GenerationParams.from_kwargs(params))

    def logprobs(self, messages: list[Message], candidates: list[str]) -> list[float]:
        llm = _engine(self._model)
        tokenizer = llm.get_tokenizer()
        # return_dict=False: a plain list of ids under transformers 4 and 5 alike.
        prompt = tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        replies = [tokenizer.encode(c, add_special_tokens=False) for c in candidates]
        # Generate one throwaway token per candidate; what we want is the scored prompt.
        outputs = llm.generate(
            [{"prompt_token_ids": prompt + reply} for reply in replies],
            _sampling_params(GenerationParams(max_tokens=1), prompt_logprobs=0),
            use_tqdm=False,
        )
        scores = []
        for reply, output in zip(replies, outputs):
            # prompt_logprobs[i] maps token ids to Logprob for position i (None at position 0);
            # with prompt_logprobs=0 it always holds the token actually there.
            positions = output.prompt_logprobs[len(prompt) :]
            scores.append(sum(step[token].logprob for step, token in zip(positions, reply)))
        return scores

    def _chat(
        self, conversations: list[list[Message]], params: GenerationParams, schema: JsonSchema | None = None
    ) -> list[str]:
        llm = _engine(self._model)
        outputs = llm.chat(
            [[dict(m) for m in messages] for messages in conversations],
            _sampling_params(params, json_schema=schema),
            use_tqdm=False,
        )
        return [output.outputs[0].text for output in outputs]


def _sampling_params(params: GenerationParams, *, json_schema: JsonSchema | None = None, **extra: Any) -> Any:
    from vllm import SamplingParams

    if json_schema is not None:
        extra.update(_guided_json(dict(json_schema)))
    return SamplingParams(
        max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p, seed=params.seed, **extra
    )


def _guided_json(schema: dict[str, Any]) -> dict[str, Any]:
    """The SamplingParams keyword for schema-constrained decoding, in this vLLM's spelling."""
    try:  # vLLM >= 0.11; the guided_decoding spelling was removed in 0.12
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=schema)}
