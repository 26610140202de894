"""Janus: a policy that follows the system message it is given (after Lee et al. 2024, "Aligning
to Thousands of Preferences via System Message Generalization"), trained from a preference
population: supervised fine-tuning on each person's preferred response under their system message,
then DPO. Plain transformers/TRL; no Django.

DPO pairs are each person's own judged pair (chosen over rejected, under their system message) and,
as in Janus, responses preferred under *another* system message for the same prompt, as rejected:
what someone else wanted is what this system message did not ask for. The prompt the policy reads
is the base model's chat template over [system, user]; the response is the assistant turn.

Evaluation holds out prompts. On their pairs, the policy's implicit DPO reward (log-probability of
the response under the policy minus under the base model) should prefer the chosen response; and
with the system message removed, a policy that learned to follow it loses that edge when people
disagree.
"""
from __future__ import annotations

import copy
import json
import math
import random
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.methods.common import distributed, sharding
from training.methods.common.contract import Hooks, RunInputs, RunResult, last_complete_checkpoint
from training.methods.common.splits import pair_wins, split_by_prompt
from training.methods.common.trainer_hooks import reporting_callback

TARGET_KINDS = ("preference_population",)
REQUIRED_FILES = ("preferences.jsonl", "users.jsonl")
MIN_PEOPLE = 1
DATA_PARALLEL = True  # trains in several processes under torchrun (training/methods/common/distributed.py)


@dataclass
class Config:
    sft_steps: int = field(default=500, metadata={"help": "Supervised fine-tuning steps on preferred responses.",
                                                  "min": 0})
    dpo_steps: int = field(default=500, metadata={"help": "DPO steps on preference pairs.", "min": 1})
    per_device_batch_size: int = field(default=8, metadata={
        "help": "Examples per step on each device (each training process).", "min": 1, "max": 1024})
    sft_learning_rate: float = field(default=1e-5, metadata={"help": "Learning rate of the SFT stage.",
                                                             "min": 1e-8, "max": 1.0})
    dpo_learning_rate: float = field(default=5e-7, metadata={"help": "Learning rate of the DPO stage.",
                                                             "min": 1e-9, "max": 1.0})
    beta: float = field(default=0.1, metadata={"help": "DPO's beta: how far the policy may move from the SFT model.",
                                               "min": 1e-4, "max": 10.0})
    other_system_rejections: int = field(default=1, metadata={
        "help": "Per pair, responses preferred under other system messages for the same prompt, added as "
                "rejected (Janus); 0 uses people's own pairs only.", "min": 0, "max": 16})
    use_system_message: bool = field(default=True, metadata={
        "help": "Show the system message in training (off only to measure what it adds)."})
    max_length: int = field(default=1024, metadata={"help": "Most tokens of prompt + response in training.",
                                                    "min": 16})
    eval_fraction: float = field(default=0.2, metadata={"help": "Share of prompts held out for evaluation.",
                                                        "min": 0.0, "max": 0.5})
    save_steps: int = field(default=200, metadata={"help": "Checkpoint every this many steps.", "min": 1})
    logging_steps: int = field(default=10, metadata={"help": "Report loss every this many steps.", "min": 1})
    sharding: str = field(default="ddp", metadata={"help": sharding.HELP, "choices": sharding.CHOICES})
    seed: int = field(default=0, metadata={"help": "Seeds the split, the pairing and training.", "min": 0})

    @classmethod
    def tiny(cls) -> Config:
        """Trains the 2-layer test Llama on CPU in seconds (see training/methods/toys.py)."""
        return cls(sft_steps=20, dpo_steps=60, per_device_batch_size=8, sft_learning_rate=1e-3,
                   dpo_learning_rate=1e-3, beta=0.1, max_length=128, save_steps=20, logging_steps=10)


MODEL_CARD = """\
A Janus-style system-message-following policy: a causal language model fine-tuned (SFT, then DPO)
to answer the way people who wrote a given system message preferred. Give it your system message
and the user's prompt through its chat template:

```python
messages = [{"role": "system", "content": "<what you want>"}, {"role": "user", "content": "<prompt>"}]
```

**Intended use**: generating responses that follow a stated system message of the kinds people in
the target wrote; comparing policies for different system messages. **Limits**: it learned only
from the prompts and system messages in its target and from its base model's abilities; DPO pairs
that take another system message's favourite as rejected assume different system messages want
different answers, which is false where two people asked for the same thing.
"""

USAGE = """\
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path).eval()
messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "How do I make tea?"}]
ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
out = model.generate(**ids, max_new_tokens=64, do_sample=False)
print(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
"""

OOM_HINT = ("Lower per_device_batch_size or max_length, or use a smaller base model (DPO holds the policy "
            "and its reference in memory together), or split them across several GPUs with sharding fsdp.")


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    system: str
    prompt: str
    chosen: str
    rejected: str


def read_pairs(path: Path) -> list[Pair]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [Pair(r["system"], r["prompt"], r["chosen"], r["rejected"]) for r in rows]


def with_other_system_rejections(pairs: Sequence[Pair], per_pair: int, seed: int) -> list[Pair]:
    """Each pair, plus up to `per_pair` pairs whose rejected response is one preferred under another
    system message for the same prompt (different from this pair's chosen)."""
    preferred: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # prompt -> system -> chosen
    for p in pairs:
        preferred[p.prompt][p.system].add(p.chosen)
    rng = random.Random(seed)
    out = list(pairs)
    for p in pairs:
        others = sorted({c for system, chosen in preferred[p.prompt].items() if system != p.system for c in chosen}
                        - {p.chosen})
        rng.shuffle(others)
        out += [Pair(p.system, p.prompt, p.chosen, other) for other in others[:per_pair]]
    return out


def conversation(system: str, prompt: str, *, use_system: bool = True) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if use_system and system.strip() else []
    return head + [{"role": "user", "content": prompt}]


def _dpo_rows(pairs: Sequence[Pair], use_system: bool) -> list[dict[str, Any]]:
    return [{"prompt": conversation(p.system, p.prompt, use_system=use_system),
             "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]} for p in pairs]


def _sft_rows(pairs: Sequence[Pair], use_system: bool) -> list[dict[str, Any]]:
    unique = dict.fromkeys((p.system, p.prompt, p.chosen) for p in pairs)
    return [{"prompt": conversation(s, q, use_system=use_system), "completion": [{"role": "assistant", "content": c}]}
            for s, q, c in unique]


# --- training -------------------------------------------------------------------------------


def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _common_args(config: Config, *, device: str, bf16: bool, rows: int) -> dict[str, Any]:
    return {"per_device_train_batch_size": config.per_device_batch_size, "max_length": config.max_length,
            "lr_scheduler_type": "cosine", "logging_steps": config.logging_steps, "save_strategy": "steps",
            "save_steps": config.save_steps, "save_total_limit": 2, "seed": config.seed, "bf16": bf16,
            "use_cpu": device == "cpu", "report_to": [], "disable_tqdm": True, "dataloader_num_workers": 0,
            # Whole global batches only (when there is one): under torchrun the last short batch would be
            # topped up with repeats on some processes, so one and several processes would train differently.
            "dataloader_drop_last": rows >= config.per_device_batch_size * distributed.world()[1],
            **sharding.trainer_args(config.sharding)}


@contextmanager
def _quiet_trl() -> Iterator[None]:
    """TRL calls transformers' gradient_checkpointing_* every step, which transformers 5 warns is
    renamed; one warning per step would bury the run's log."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        yield


def sft(pairs: Sequence[Pair], *, base_model: str, config: Config, checkpoint_dir: Path, device: str = "cpu",
        bf16: bool = False, callbacks: Sequence[Any] = ()) -> tuple[Any, Any]:
    """Fine-tunes on the preferred responses (loss on the response only); resumes from checkpoints."""
    from trl import SFTConfig, SFTTrainer

    rows = _sft_rows(pairs, config.use_system_message)
    return _stage(SFTTrainer, SFTConfig(output_dir=str(checkpoint_dir), max_steps=config.sft_steps,
                                         learning_rate=config.sft_learning_rate,
                                         warmup_steps=max(1, config.sft_steps // 20),
                                         **_common_args(config, device=device, bf16=bf16, rows=len(rows))),
                  start=base_model, base_model=base_model, rows=rows, callbacks=callbacks)


def dpo(pairs: Sequence[Pair], *, policy: str, base_model: str, config: Config, checkpoint_dir: Path,
        device: str = "cpu", bf16: bool = False, callbacks: Sequence[Any] = ()) -> tuple[Any, Any]:
    """DPO from the model in folder `policy` (also the frozen reference); resumes from checkpoints."""
    from trl import DPOConfig, DPOTrainer

    rows = _dpo_rows(pairs, config.use_system_message)
    return _stage(DPOTrainer, DPOConfig(output_dir=str(checkpoint_dir), max_steps=config.dpo_steps,
                                         learning_rate=config.dpo_learning_rate, beta=config.beta,
                                         warmup_steps=max(1, config.dpo_steps // 20),
                                         **_common_args(config, device=device, bf16=bf16, rows=len(rows))),
                  start=policy, base_model=base_model, rows=rows, callbacks=callbacks, reference=True)


def _stage(trainer_class: Any, args: Any, *, start: str, base_model: str, rows: list[dict[str, Any]],
           callbacks: Sequence[Any], reference: bool = False) -> tuple[Any, Any]:
    """One TRL stage from the model folder `start`, resuming from args.output_dir's checkpoints. Under
    torchrun the writer reads `start`, the other processes the base model, then take the writer's weights;
    the trained model is the writer's (None on the others)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PrinterCallback

    folder = start if distributed.is_writer() else base_model
    tokenizer = _tokenizer(folder)
    model = distributed.share_weights(AutoModelForCausalLM.from_pretrained(folder))
    # DPO's frozen reference is the start model: a copy, since TRL would load it from the folder the
    # model came from, which is the base model on every process but the writer.
    frozen = {"ref_model": copy.deepcopy(model)} if reference else {}
    trainer = trainer_class(model=model, args=args, processing_class=tokenizer,
                            callbacks=list(callbacks), train_dataset=Dataset.from_list(rows), **frozen)
    trainer.remove_callback(PrinterCallback)
    with _quiet_trl():
        trainer.train(resume_from_checkpoint=last_complete_checkpoint(Path(args.output_dir)))
    trained = sharding.trained_model(trainer, lambda: AutoModelForCausalLM.from_pretrained(folder))
    return (trained.eval() if trained is not None else None), tokenizer


# --- scoring ---------------------------------------------------------------------------------


def response_logprobs(model: Any, tokenizer: Any, items: Sequence[tuple[list[dict[str, str]], str]], *,
                      batch_size: int = 16) -> list[float]:
    """Sum of log-probabilities of each response's tokens after its conversation's generation
    prompt, as the chat template lays them out (the end-of-turn marker included)."""
    import torch

    device = next(model.parameters()).device
    sequences = []
    for messages, response in items:
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)
        if not full.startswith(prompt):
            raise ValueError("the chat template does not extend the generation prompt with the response")
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = tokenizer(full[len(prompt):], add_special_tokens=False)["input_ids"]
        sequences.append((head, tail))
    out: list[float] = []
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start : start + batch_size]
        width = max(len(h) + len(t) for h, t in chunk)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0  # masked out anyway
        ids = torch.full((len(chunk), width), pad)  # (B, T), right-padded
        scored = torch.zeros((len(chunk), width), dtype=torch.bool)  # positions of response tokens
        for row, (head, tail) in enumerate(chunk):
            ids[row, : len(head) + len(tail)] = torch.tensor(head + tail)
            scored[row, len(head) : len(head) + len(tail)] = True
        attention = (torch.arange(width)[None] < torch.tensor([len(h) + len(t) for h, t in chunk])[:, None]).long()
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits.float()  # (B, T, V)
        logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(device))[..., 0]  # (B, T-1)
        out += (logp * scored[:, 1:].to(device)).sum(-1).tolist()
    return out


def implicit_reward_accuracy(policy: Any, reference: Any, tokenizer: Any, pairs: Sequence[Pair], *,
                             use_system: bool = True) -> float:
    """How often log pi/pi_ref of the chosen response beats the rejected one's."""
    if not pairs:
        return math.nan
    items = []
    for p in pairs:
        messages = conversation(p.system, p.prompt, use_system=use_system)
        items += [(messages, p.chosen), (messages, p.rejected)]
    mine = response_logprobs(policy, tokenizer, items)
    base = response_logprobs(reference, tokenizer, items)
    rewards = [m - b for m, b in zip(mine, base)]
    return sum(pair_wins(rewards[0::2], rewards[1::2])) / len(pairs)


# --- the run ----------------------------------------------------------------------------------


def train(inputs: RunInputs, config: Config, hooks: Hooks) -> RunResult:
    """SFT (checkpoints in work_dir/checkpoints, its model kept in work_dir/sft-model), then DPO
    (work_dir/dpo-checkpoints), then evaluation on held-out prompts; a restarted run skips what
    is done."""
    from transformers import AutoModelForCausalLM

    pairs = read_pairs(inputs.dataset["preferences.jsonl"])
    train_set, held_out = split_by_prompt(pairs, config.eval_fraction, config.seed)
    if not train_set:
        raise ValueError("every pair was held out; lower eval_fraction")
    dpo_set = with_other_system_rejections(train_set, config.other_system_rejections, config.seed)
    hooks.log(f"{len(pairs)} pairs: {len(train_set)} to train on ({len(dpo_set) - len(train_set)} more from other "
              f"system messages' favourites), {len(held_out)} held out")
    device = {"device": inputs.device, "bf16": inputs.bf16}

    sft_model = inputs.work_dir / "sft-model"
    sft_done = distributed.agree(sft_model.exists())  # the writer's folder; under torchrun only it writes one
    if sft_done:
        hooks.log("resuming after the SFT stage of an earlier attempt")
    elif config.sft_steps:
        reporting = reporting_callback(hooks, max_steps=config.sft_steps, progress=(0.0, 0.4), stage="SFT",
                                       keys={"loss": "loss"})
        model, tokenizer = sft(train_set, base_model=inputs.base_model, config=config,
                               checkpoint_dir=inputs.work_dir / "checkpoints", callbacks=[reporting], **device)
        if distributed.is_writer():
            staging = inputs.work_dir / ".sft-model.tmp"
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            staging.replace(sft_model)
        sft_done = True
    start = str(sft_model) if sft_done else inputs.base_model

    reporting = reporting_callback(hooks, max_steps=config.dpo_steps, progress=(0.4, 0.9), stage="DPO",
                                   step_offset=config.sft_steps,
                                   keys={"loss": "loss", "rewards/accuracies": "dpo_accuracy",
                                         "rewards/margins": "dpo_margin"})
    policy, tokenizer = dpo(dpo_set, policy=start, base_model=inputs.base_model, config=config,
                            checkpoint_dir=inputs.work_dir / "dpo-checkpoints", callbacks=[reporting], **device)
    if not distributed.is_writer():
        return RunResult(metrics={})  # the writer evaluates and saves the model

    hooks.progress(0.9, stage="evaluating")
    metrics: dict[str, float] = {}
    if held_out:
        reference = AutoModelForCausalLM.from_pretrained(inputs.base_model).to(inputs.device).eval()
        metrics["eval_accuracy"] = implicit_reward_accuracy(policy, reference, tokenizer, held_out)
        metrics["eval_accuracy_without_system"] = implicit_reward_accuracy(policy, reference, tokenizer, held_out,
                                                                           use_system=False)
    policy.save_pretrained(inputs.output_dir)
    tokenizer.save_pretrained(inputs.output_dir)
    summary = {"pairs": len(pairs), "train_pairs": len(train_set), "other_system_pairs": len(dpo_set) - len(train_set),
               "held_out_pairs": len(held_out), "system_messages": len({p.system for p in pairs}),
               "prompts": len({p.prompt for p in pairs})}
    return RunResult(metrics=metrics, summary=summary)

