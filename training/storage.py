"""Where targets, runs and models live on disk, and how files appear there: all at once or not at all.

Everything is under MEDIA_ROOT/training/, which web, CPU and GPU workers share (one disk, or a
shared volume at scale), or, with CHORUS_STORAGE_URL=s3://..., in a bucket that MEDIA_ROOT caches
(training.object_store; the functions below that publish or fetch say where each goes). Folders are
named by uuid, never by database id, so a fresh database never collides with folders left by an old one.
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


def model_publish(staging: Path, final: Path, files: list[dict]) -> str:
    """Makes a finished model folder visible, complete or not at all: renamed into place on a local
    disk, or copied to its final keys once verified in a bucket. Returns the artifact's path (its
    place relative to MEDIA_ROOT, which is also its prefix in the bucket)."""
    from training import object_store

    if object_store.enabled():
        object_store.publish_model(staging, final, files)
    else:
        publish_folder(staging, final)
    return final.relative_to(Path(settings.MEDIA_ROOT)).as_posix()


def target_files_publish(folder: Path, hashes: Mapping[str, str]) -> None:
    """A target folder just written on this host: to the bucket too, when there is one (before the
    database row names the files)."""
    from training import object_store

    if object_store.enabled():
        object_store.upload_files(folder, dict(hashes))


def target_files_discard(folder: Path) -> None:
    """A target folder that will not be recorded: off this host's disk, and out of the bucket if it
    was uploaded there."""
    from training import object_store

    shutil.rmtree(folder, ignore_errors=True)
    if object_store.enabled():
        object_store.delete_folder(folder)


def target_file_local(target_uuid: object, name: str, sha256: str) -> Path:
    """A target's file on this host's disk, checked against `sha256` (fetched from the bucket, when
    there is one and the cache does not hold those bytes)."""
    from training import object_store

    path = target_dir(target_uuid) / name
    if object_store.enabled():
        return object_store.ensure_local(path, sha256)
    if sha256_file(path) != sha256:
        raise ValueError(f"dataset file {name} no longer matches its sha256; refusing to train")
    return path


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


def pending_upload(path: Path) -> None:
    """An uploaded file that a worker will read (an import): to the bucket too, when there is one."""
    from training import object_store

    if object_store.enabled():
        object_store.upload(path, sha256_file(path))


def pending_fetch(path: Path) -> None:
    """The worker's side of `pending_upload`: the file on this host's disk, fetched if it is not."""
    from training import object_store

    if object_store.enabled() and not path.is_file():
        object_store.download(path)


def pending_discard(path: Path) -> None:
    from training import object_store

    if object_store.enabled():
        object_store.delete(path)


def checkpoints_pull(folder: Path) -> str | None:
    """Before a run (re)starts on this host: with a bucket and no complete checkpoint on this disk,
    the newest one from the bucket (another host's). Returns its name, or None."""
    from training import object_store
    from training.methods.common.contract import last_complete_checkpoint

    if object_store.enabled() and last_complete_checkpoint(folder) is None:
        return object_store.checkpoints_pull(folder)
    return None


def checkpoint_latest(folder: Path) -> str | None:
    """The newest complete checkpoint a run can resume from (on this disk, else in the bucket): its
    folder name, or None."""
    from training import object_store
    from training.methods.common.contract import last_complete_checkpoint

    if local := last_complete_checkpoint(folder):
        return Path(local).name
    return object_store.checkpoint_newest(folder) if object_store.enabled() else None


def checkpoints_drop(folder: Path) -> None:
    from training import object_store

    shutil.rmtree(folder, ignore_errors=True)
    if object_store.enabled():
        object_store.delete_folder(folder)


def store_problem() -> str | None:
    """Why files cannot be stored now (an unreachable bucket, refused or missing credentials), or None."""
    from training import object_store

    if not object_store.enabled():
        return None
    try:
        object_store.check()
    except object_store.StorageError as exc:
        return str(exc)
    return None
