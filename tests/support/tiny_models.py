"""A tiny Llama built offline, for tests that need a real Hugging Face model folder.

No model hub is reachable from our machines, so tests cannot download even a small checkpoint.
Instead we train a byte-level BPE tokenizer on a built-in English corpus and initialise a 2-layer
Llama with a fixed seed, then save both with `save_pretrained`. Code under test loads the folder
through the real `from_pretrained` paths (causal LM, sequence classification for reward models),
so the same code works unchanged on SmolLM2 or any other Llama-family checkpoint.

The weights are random: the model produces gibberish, but deterministic gibberish for a seed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

BOS_TOKEN = "<|endoftext|>"
EOS_TOKEN = "<|im_end|>"  # ends every chat turn, so generation stops where a reply ends
PAD_TOKEN = "<|pad|>"  # distinct from EOS: a reward model must tell padding from a real turn end
TURN_START = "<|im_start|>"
SPECIAL_TOKENS = [BOS_TOKEN, TURN_START, EOS_TOKEN, PAD_TOKEN]

# ChatML, as SmolLM2-Instruct uses, so prompts built for the bundled model look the same here.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_SUBJECTS = [
    "A good friend",
    "The assistant",
    "My mother",
    "A careful doctor",
    "The teacher",
    "Every participant",
    "A young girl",
    "The curator",
]
_VERBS = [
    "listens to",
    "asks about",
    "respects",
    "explains",
    "questions",
    "writes down",
    "cares about",
    "thinks through",
]
_OBJECTS = [
    "what matters most",
    "the hard choice",
    "their own values",
    "the story behind it",
    "a wiser answer",
    "the other person's feelings",
]
_ENDINGS = [".", " before deciding.", ", one question at a time.", "?"]


def tiny_corpus() -> list[str]:
    """A few hundred short English sentences (no download), plus a chat-shaped exchange."""
    sentences = [
        f"{subject} {verb} {obj}{ending}"
        for (subject, verb, obj), ending in zip(
            itertools.product(_SUBJECTS, _VERBS, _OBJECTS), itertools.cycle(_ENDINGS)
        )
    ]  # 8 * 8 * 6 = 384 sentences
    sentences += [
        "Hello! How are you today? I am fine, thank you.",
        "What should I do when my values conflict with my family's?",
        "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024.",
    ]
    return sentences


def train_tiny_tokenizer(*, vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE: every byte is in the vocabulary, so any text encodes and decodes losslessly."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(tiny_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[TURN_START],
        chat_template=CHAT_TEMPLATE,
        # Decoding must give back the exact text: no " ." -> "." tidying.
        clean_up_tokenization_spaces=False,
        model_max_length=256,
    )


def tiny_llama(*, vocab_size: int = 512, seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """The model and tokenizer in memory; the same seed gives the same weights.

    `vocab_size` is an upper bound: on the built-in corpus BPE runs out of merges a little short
    of 512 (499 tokens), and the model's embedding matches the tokenizer's real size.
    """
    tokenizer = train_tiny_tokenizer(vocab_size=vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),  # the trainer may stop short of vocab_size on a small corpus
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, as SmolLM2 and Llama 3 use
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    # Seed a forked RNG so building a model does not reset the caller's random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def build_tiny_llama(path: Path, *, vocab_size: int = 512, seed: int = 0) -> Path:
    """Save a tiny Llama (safetensors, config, tokenizer, chat template) into `path` and return it.

    The folder loads with AutoTokenizer, AutoModelForCausalLM and
    AutoModelForSequenceClassification (num_labels=1 for a reward model; pad_token_id is set).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model, tokenizer = tiny_llama(vocab_size=vocab_size, seed=seed)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
