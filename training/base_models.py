"""The base models a run can start from: the folders this server has, never a path a form makes up.

Three sources, in this order: the bundled chat model once `prepare_models` has converted it, any
other model folder prepared in the model folders (`CHORUS_BASE_MODEL_DIRS`, the model cache by
default), and earlier trained models that are language models themselves (a Janus policy; a
reward model is not a base). A folder counts when its `config.json` names a causal language model,
which every method starts from. Workers read the same folders from the shared disk, or, with a
bucket, download a trained one first (`base_model_fetch`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from chorus.inference.local import MODEL_NAME as BUNDLED
from training import object_store
from training.models import ModelArtifact


@dataclass(frozen=True)
class BaseModel:
    path: str
    label: str
    source: str  # "bundled", "prepared" or "trained"


def base_models_available() -> list[BaseModel]:
    found: dict[str, BaseModel] = {}
    for root in settings.CHORUS_BASE_MODEL_DIRS:
        root = Path(root)
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if _language_model(p)):
            source = "bundled" if folder.name == BUNDLED else "prepared"
            found.setdefault(str(folder), BaseModel(str(folder), f"{folder.name} ({source})", source))
    media = Path(settings.MEDIA_ROOT)
    for artifact in ModelArtifact.objects.order_by("-created_at").only("name", "method", "run_id", "path", "files"):
        folder = media / artifact.path
        if _language_model(folder) or _language_model_in_bucket(artifact, folder):
            label = f"{artifact.name} (trained: {artifact.method}, run {artifact.run_id})"
            found.setdefault(str(folder), BaseModel(str(folder), label, "trained"))
    return sorted(found.values(), key=lambda m: ("bundled", "prepared", "trained").index(m.source))


def _language_model_in_bucket(artifact: ModelArtifact, folder: Path) -> bool:
    """With a bucket, a trained model's config.json is fetched into this host's cache to be read."""
    config = next((f for f in artifact.files if f["name"] == "config.json"), None)
    if not object_store.enabled() or config is None:
        return False
    try:
        object_store.ensure_local(folder / "config.json", config["sha256"])
    except (OSError, ValueError, object_store.StorageError):
        return False
    return _language_model(folder)


def base_model_fetch(path: str) -> None:
    """On the worker, before training: with a bucket, a trained model chosen as the base is downloaded
    into this host's cache, every file checked against its sha256. Other base models are local folders."""
    if not object_store.enabled():
        return
    try:
        name = object_store.name_of(Path(path))
    except ValueError:  # not under MEDIA_ROOT: a prepared or bundled model
        return
    artifact = ModelArtifact.objects.filter(path=name).first()
    for f in artifact.files if artifact else ():
        object_store.ensure_local(Path(settings.MEDIA_ROOT) / name / f["name"], f["sha256"])


def _language_model(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and any(str(a).endswith("ForCausalLM") for a in config.get("architectures") or ())


def base_model_check(path: str) -> str:
    """The path if the server offers it; otherwise ValueError saying what is offered."""
    offered = {m.path for m in base_models_available()}
    if path in offered:
        return path
    if not offered:
        raise ValueError("This server has no base model yet: run `manage.py prepare_models` (the bundled model), "
                         "or put a save_pretrained folder in one of CHORUS_BASE_MODEL_DIRS.")
    raise ValueError("Choose one of the base models this server has (GET /api/v1/base-models/ lists them).")
