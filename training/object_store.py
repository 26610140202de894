"""Targets and models in an S3-compatible bucket (CHORUS_STORAGE_URL=s3://bucket/prefix), through
django-storages (S3Storage) and boto3. Unset, or a folder, and nothing here runs: MEDIA_ROOT is the store.

Keys mirror the folders under MEDIA_ROOT (training/targets/<uuid>/<file>, training/models/<run
uuid>/<file>), and MEDIA_ROOT becomes each host's cache of the bucket: a worker downloads a target's
files there, checked against their sha256, before training, and uploads the model after.

A model is published all at once or not at all, as on a local disk:
  1. every file goes up under a temporary key, training/uploads/<run uuid>-<random>/<name>;
  2. each is read back from the bucket and its sha256 compared with the manifest's;
  3. each is copied, server side, to its final key; checksums.sha256 last;
  4. the temporary keys are deleted, and only then does the database row make the model exist.
Readers (the Hub endpoints, the dashboard) find a model's files through that row, so a crash at any
step leaves nothing visible: at worst keys under training/uploads/ or a prefix that no row names.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

UPLOADS = "training/uploads"


class StorageError(RuntimeError):
    """The bucket could not be reached or refused us; the message names CHORUS_STORAGE_URL."""


def enabled() -> bool:
    return bool(getattr(settings, "OBJECT_STORAGE", None))


def _options() -> tuple:
    options = dict(settings.OBJECT_STORAGE)
    return tuple(sorted(options.items()))


@functools.lru_cache(maxsize=4)
def _storage(options: tuple, *, public: bool = False):
    from botocore.config import Config
    from storages.backends.s3 import S3Storage

    opts = dict(options)
    endpoint = (opts["public_endpoint_url"] or opts["endpoint_url"]) if public else opts["endpoint_url"]
    return S3Storage(
        bucket_name=opts["bucket_name"], location=opts["location"], endpoint_url=endpoint,
        region_name=opts["region_name"], addressing_style="path", signature_version="s3v4",
        querystring_auth=True, querystring_expire=opts["presigned_seconds"], file_overwrite=True, default_acl=None,
        # Fail within seconds, not minutes, when the bucket is unreachable.
        client_config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                             s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


def storage():
    """The bucket as a django-storages S3Storage (names relative to the prefix)."""
    return _storage(_options())


def _client():
    return storage().connection.meta.client


def _bucket() -> str:
    return settings.OBJECT_STORAGE["bucket_name"]


def _full_key(name: str) -> str:
    prefix = settings.OBJECT_STORAGE["location"]
    return f"{prefix}/{name}" if prefix else name


def name_of(path: Path) -> str:
    """A file under MEDIA_ROOT -> its name in the bucket (the same relative path)."""
    return Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()


def describe(name: str) -> str:
    return f"s3://{_bucket()}/{_full_key(name)}"


def _failing(action: str, exc: Exception) -> StorageError:
    return StorageError(f"{action} failed ({type(exc).__name__}: {exc}); check CHORUS_STORAGE_URL "
                        f"({settings.OBJECT_STORAGE['bucket_name']}), CHORUS_S3_ENDPOINT_URL and the AWS credentials")


def check() -> None:
    """Raises StorageError unless the bucket answers with these credentials (one HEAD request)."""
    try:
        _client().head_bucket(Bucket=_bucket())
    except Exception as exc:
        raise _failing(f"reaching the bucket {_bucket()!r}", exc) from exc


def _sha256_of_object(key: str) -> str:
    digest = hashlib.sha256()
    body = _client().get_object(Bucket=_bucket(), Key=key)["Body"]
    for chunk in body.iter_chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def upload(path: Path, sha256: str, *, name: str | None = None) -> None:
    """One local file to its key (by default the one its place under MEDIA_ROOT gives); a PUT
    replaces an object in one step, and the copy is read back and checked against `sha256`."""
    key = _full_key(name or name_of(path))
    try:
        _client().upload_file(str(path), _bucket(), key)
        stored = _sha256_of_object(key)
    except Exception as exc:
        raise _failing(f"uploading {path.name}", exc) from exc
    if stored != sha256:
        raise StorageError(f"{describe(name or name_of(path))} does not match its sha256 after upload")


def upload_files(folder: Path, hashes: dict[str, str]) -> None:
    """A target's files (name -> sha256), each to its key. The database row that names them comes after."""
    for file_name, sha256 in hashes.items():
        upload(folder / file_name, sha256)


def ensure_local(path: Path, sha256: str) -> Path:
    """`path` under MEDIA_ROOT, holding the bytes whose hash is `sha256`: kept if the cache already has
    them, otherwise downloaded beside it and renamed into place once checked."""
    if path.is_file() and _sha256_file(path) == sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        try:
            _client().download_file(_bucket(), _full_key(name_of(path)), temp)
        except Exception as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(f"{describe(name_of(path))} is not in the bucket") from exc
            raise _failing(f"downloading {describe(name_of(path))}", exc) from exc
        if _sha256_file(Path(temp)) != sha256:
            raise ValueError(f"{describe(name_of(path))} no longer matches its sha256")
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
    return path


def download(path: Path) -> Path:
    """`path` under MEDIA_ROOT from its key, unchecked (for files no row records a hash of)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _client().download_file(_bucket(), _full_key(name_of(path)), str(path))
    except Exception as exc:
        raise _failing(f"downloading {describe(name_of(path))}", exc) from exc
    return path


def delete(path: Path) -> None:
    try:
        _client().delete_object(Bucket=_bucket(), Key=_full_key(name_of(path)))
    except Exception:
        log.exception("could not remove %s from the bucket", name_of(path))


def publish_model(staging: Path, final: Path, files: Iterable[dict]) -> None:
    """The finished model folder `staging` under its final prefix (`final`'s place under MEDIA_ROOT),
    all or nothing; see the module's docstring. `files` is the manifest: name, sha256, size_bytes."""
    manifest = sorted(files, key=lambda f: f["name"])
    checksums = staging / "checksums.sha256"
    order = [(f["name"], f["sha256"]) for f in manifest]
    if checksums.is_file():
        order.append(("checksums.sha256", _sha256_file(checksums)))  # the manifest goes last
    temp_prefix = f"{UPLOADS}/{final.name}-{secrets.token_hex(4)}"
    final_name = name_of(final)
    client, bucket = _client(), _bucket()
    try:
        for file_name, sha256 in order:  # 1, 2
            upload(staging / file_name, sha256, name=f"{temp_prefix}/{file_name}")
        _delete_prefix(final_name)  # a leftover of an attempt that crashed after its copies; no row names it
        for file_name, _ in order:  # 3
            try:
                client.copy({"Bucket": bucket, "Key": _full_key(f"{temp_prefix}/{file_name}")}, bucket,
                            _full_key(f"{final_name}/{file_name}"))
            except Exception as exc:
                raise _failing(f"publishing {file_name}", exc) from exc
    except BaseException:
        _delete_prefix(final_name, quiet=True)
        raise
    finally:
        _delete_prefix(temp_prefix, quiet=True)  # 4


def _delete_prefix(name: str, *, quiet: bool = False) -> None:
    try:
        client, bucket = _client(), _bucket()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=_full_key(name) + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    except Exception:
        if not quiet:
            raise
        log.exception("could not remove %s from the bucket", name)


def keys_under(name: str) -> list[str]:
    """Names (relative to the prefix) of the objects under `name`/."""
    client, prefix = _client(), _full_key("")
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=_full_key(name) + "/"):
        names += [o["Key"][len(prefix):] for o in page.get("Contents", [])]
    return names


# Checkpoints: a worker pushes each one that finished saving (trainer_state.json, written last
# by transformers, also goes up last, so a checkpoint in the bucket is complete when it has one), and
# a worker that resumes a run with none on its own disk pulls the newest. The reaper asks the bucket.


def _complete_checkpoints(names: list[str], folder_name: str) -> dict[str, list[str]]:
    """checkpoint-<step> -> its names, for those in the bucket that have their trainer_state.json."""
    found: dict[str, list[str]] = {}
    for name in names:
        checkpoint = name[len(folder_name) + 1:].split("/", 1)[0]
        found.setdefault(checkpoint, []).append(name)
    return {c: sorted(n, key=lambda n: n.endswith("/trainer_state.json")) for c, n in found.items()
            if f"{folder_name}/{c}/trainer_state.json" in n and c.startswith("checkpoint-")}


def checkpoints_push(folder: Path, pushed: set[str]) -> None:
    """Uploads the checkpoints under `folder` that finished saving and are not in `pushed` (updated),
    and removes from the bucket those the method has since deleted on disk."""
    if not folder.is_dir():
        return
    done = {d.name for d in folder.glob("checkpoint-*") if (d / "trainer_state.json").is_file()}
    for checkpoint in sorted(done - pushed, key=lambda c: int(c.split("-")[1])):
        files = sorted((p for p in (folder / checkpoint).rglob("*") if p.is_file()),
                       key=lambda p: p.name == "trainer_state.json")
        for path in files:
            upload(path, _sha256_file(path))
        pushed.add(checkpoint)
    for checkpoint in pushed - done:
        _delete_prefix(f"{name_of(folder)}/{checkpoint}", quiet=True)
        pushed.discard(checkpoint)


def checkpoints_pull(folder: Path) -> str | None:
    """The newest complete checkpoint in the bucket, under `folder` on this disk; its name, or None."""
    folder_name = name_of(folder)
    complete = _complete_checkpoints(keys_under(folder_name), folder_name)
    if not complete:
        return None
    newest = max(complete, key=lambda c: int(c.split("-")[1]))
    for name in complete[newest]:  # trainer_state.json last: a pull cut short is not a complete checkpoint
        download(Path(settings.MEDIA_ROOT) / name)
    return newest


def checkpoint_newest(folder: Path) -> str | None:
    folder_name = name_of(folder)
    complete = _complete_checkpoints(keys_under(folder_name), folder_name)
    return max(complete, key=lambda c: int(c.split("-")[1])) if complete else None


def delete_folder(folder: Path) -> None:
    _delete_prefix(name_of(folder), quiet=True)


def presigned_url(name: str, *, filename: str) -> str:
    """A time-limited GET URL for `name`, at the address clients use (CHORUS_S3_PUBLIC_ENDPOINT_URL)."""
    signer = _storage(_options(), public=True)
    return signer.url(name, parameters={"ResponseContentDisposition": f'attachment; filename="{filename}"'})


def size_and_body(name: str):
    """(size in bytes, a streaming read-only file object) of `name`."""
    got = _client().get_object(Bucket=_bucket(), Key=_full_key(name))
    return got["ContentLength"], got["Body"]


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
