"""What publishing a model costs in a bucket against a local rename: seconds and MB/s for a model
folder of --mb megabytes (three files), published through training.storage.model_publish, each way.
The bucket is moto's S3 server on loopback (as in the tests), so the figures measure Chorus's
protocol (upload, read back, server-side copy, delete), not a real network or disk.

    .venv/bin/python bench/object_store.py [--mb 256]

No database is needed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.test")


def folder(root: Path, megabytes: int) -> tuple[Path, list[dict]]:
    from training.storage import sha256_file

    staging = root / "staging"
    staging.mkdir(parents=True)
    (staging / "config.json").write_text('{"model_type": "bench"}')
    (staging / "tokenizer.json").write_bytes(os.urandom(2 << 20))
    with open(staging / "model.safetensors", "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    files = [{"name": p.name, "sha256": sha256_file(p), "size_bytes": p.stat().st_size} for p in sorted(staging.iterdir())]
    return staging, files


def publish(root: Path, megabytes: int) -> tuple[float, int]:
    from training.storage import model_dir, model_publish

    staging, files = folder(root, megabytes)
    size = sum(f["size_bytes"] for f in files)
    started = time.perf_counter()
    model_publish(staging, model_dir(uuid.uuid4()), files)
    return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256, help="size of model.safetensors in MiB")
    args = parser.parse_args()

    import boto3
    import django
    from django.conf import settings
    from moto.server import ThreadedMotoServer

    django.setup()
    from tests.support.private_services import free_port

    work = Path(tempfile.mkdtemp(prefix="chorus-bench-store-"))
    try:
        settings.MEDIA_ROOT = work / "local"
        seconds, size = publish(work / "local", args.mb)
        print(f"local folder: {size / 2**20:.0f} MiB published in {seconds:.3f} s (one rename)")

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
                os.environ[name] = value
            endpoint = f"http://127.0.0.1:{port}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
            settings.MEDIA_ROOT = work / "cache"
            settings.OBJECT_STORAGE = {"bucket_name": "bench", "location": "chorus", "endpoint_url": endpoint,
                                       "region_name": "us-east-1", "public_endpoint_url": None,
                                       "presigned_seconds": 600}
            seconds, size = publish(work / "cache", args.mb)
            print(f"s3 bucket (moto, loopback): {size / 2**20:.0f} MiB published in {seconds:.2f} s, "
                  f"{size / 2**20 / seconds:.1f} MiB/s (upload + read back + server-side copy + delete)")
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
