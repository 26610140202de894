"""Where targets, runs and models live on disk, and how files appear there: all at once or not at all.

Everything is under MEDIA_ROOT/training/, which web, CPU and GPU workers share (one disk, or a
shared volume at scale). Folders are named by uuid, never by database id, so a fresh database
never collides with folders left by an old one.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings


def training_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "training"


def targets_root() -> Path:
    return training_root() / "targets"


def target_dir(target_uuid: object) -> Path:
    return targets_root() / str(target_uuid)


def run_dir(run_uuid: object) -> Path:
    return training_root() / "runs" / str(run_uuid)


def model_dir(run_uuid: object) -> Path:
    """A run publishes at most one model, so the run's uuid names it: a retried publish finds it."""
    return training_root() / "models" / str(run_uuid)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_folder_atomic(final: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` into a hidden sibling folder, then rename it to `final` in one step."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish_folder(staging: Path, final: Path) -> None:
    """Rename a finished folder into place. A folder already at `final` is a leftover of an attempt
    that crashed after its rename but before the database recorded it; nothing refers to it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)


def files_stage(folder: Path, files: Mapping[str, bytes]) -> list[tuple[Path, Path]]:
    """Writes each file under a hidden name beside the one it will replace; nothing visible changes
    yet. Returns (staged, final) pairs for `files_swap` or `files_discard`."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            fd, temp = tempfile.mkstemp(prefix=f".{name}-", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            staged.append((Path(temp), folder / name))
    except BaseException:
        files_discard(staged)
        raise
    return staged


def files_swap(staged: list[tuple[Path, Path]]) -> None:
    """Each staged file replaces its final name in one step (a reader sees the old file or the new)."""
    for temp, final in staged:
        os.replace(temp, final)


def files_discard(staged: list[tuple[Path, Path]]) -> None:
    for temp, _ in staged:
        temp.unlink(missing_ok=True)


def import_dir(import_uuid: object) -> Path:
    """Where an uploaded preference file waits for its import (training.services.imports)."""
    return training_root() / "imports" / str(import_uuid)
