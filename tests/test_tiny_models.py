"""The tiny offline Llama loads through the real from_pretrained paths and behaves like a checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from tests.support.tiny_models import EOS_TOKEN, PAD_TOKEN, build_tiny_llama, tiny_llama

TEXTS = [
    "A good friend listens to what matters most.",
    "Spaces  twice , odd punctuation .\nNew line\tand a tab ",
    "Café, naïve, 東京, emoji 🙂 and <|im_end|> inline",
]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    started = time.perf_counter()
    path = build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), seed=0)
    assert time.perf_counter() - started < 5, "building the tiny model must stay well under 5 s"
    return path


def test_folder_has_what_from_pretrained_reads(tiny_path: Path) -> None:
    names = {p.name for p in tiny_path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names


def test_tokenizer_round_trips_text_and_special_tokens(tiny_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    assert tokenizer.is_fast
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.decode(ids) == text
    assert tokenizer.eos_token == EOS_TOKEN
    assert tokenizer.pad_token == PAD_TOKEN
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
    # BPE merges were learned: common words are not spelled out byte by byte.
    assert len(tokenizer("what matters most")["input_ids"]) < len("what matters most") // 2


def test_chat_template_renders_chatml(tiny_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi?"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"


def test_saved_model_gives_the_same_logits_as_before_saving(tiny_path: Path) -> None:
    in_memory, tokenizer = tiny_llama(seed=0)
    loaded = AutoModelForCausalLM.from_pretrained(tiny_path).eval()
    assert type(loaded) is type(in_memory)
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = in_memory(**batch).logits  # (B, T, vocab)
        actual = loaded(**batch).logits
    assert actual.shape == (len(TEXTS), batch["input_ids"].shape[1], loaded.config.vocab_size)
    assert torch.equal(actual, expected)


def test_seed_decides_the_weights() -> None:
    a, _ = tiny_llama(seed=0)
    b, _ = tiny_llama(seed=1)
    assert not torch.equal(a.lm_head.weight, b.lm_head.weight)


def test_building_leaves_the_callers_random_state_alone(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_llama(tmp_path, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_generate_from_a_chat_prompt(tiny_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_path).eval()
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What matters most?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    prompt_length = inputs["input_ids"].shape[1]
    first = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    second = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    assert first.shape == (1, prompt_length + 8)
    assert torch.equal(first, second)
    # The output continues the chat prompt, and greedy decoding took the likeliest token after it.
    assert torch.equal(first[0, :prompt_length], inputs["input_ids"][0])
    with torch.no_grad():
        next_token = model(**inputs).logits[0, -1].argmax()
    assert first[0, prompt_length] == next_token


def test_loads_as_a_reward_model_that_ignores_padding(tiny_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    model, info = AutoModelForSequenceClassification.from_pretrained(tiny_path, num_labels=1, output_loading_info=True)
    model.eval()
    # Only the new scalar head is fresh; the whole backbone came from the checkpoint.
    assert info["missing_keys"] == {"score.weight"}
    assert model.config.pad_token_id == tokenizer.pad_token_id

    short, long = "Be kind.", "A careful doctor thinks through the hard choice before deciding."
    batch = tokenizer([short, long], return_tensors="pt", padding=True)
    assert (batch["input_ids"][0] == tokenizer.pad_token_id).any(), "the short text should be padded"
    with torch.no_grad():
        batched = model(**batch).logits  # (B, 1)
        alone = torch.cat([model(**tokenizer([text], return_tensors="pt")).logits for text in (short, long)])
    assert batched.shape == (2, 1)
    # The score is read at each sequence's last real token, so padding does not change it.
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)
