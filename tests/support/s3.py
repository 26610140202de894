"""A real S3-protocol HTTP server on loopback for object-storage tests: moto's ThreadedMotoServer.

Why moto: MinIO (what compose runs) is not installable here, and moto is a maintained Python package
whose server mode speaks the S3 REST API over HTTP (signatures, presigned URLs, ranges, multipart,
server-side copy), so boto3, django-storages and huggingface_hub talk to it exactly as to a bucket.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.private_services import free_port


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint: str
    prefix: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def keys(self, under: str = "") -> list[str]:
        """Object names under `under`, relative to the prefix."""
        start = f"{self.prefix}/{under}".rstrip("/")
        found = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=start):
            found += [o["Key"][len(self.prefix) + 1:] for o in page.get("Contents", [])]
        return found

    def read(self, name: str) -> bytes:
        return self.client().get_object(Bucket=self.name, Key=f"{self.prefix}/{name}")["Body"].read()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server, settings, tmp_path, monkeypatch) -> Bucket:
    """A fresh bucket, and Chorus configured as CHORUS_STORAGE_URL=s3://<bucket>/chorus would: MEDIA_ROOT
    is then only this host's cache."""
    for name, value in (("AWS_ACCESS_KEY_ID", "chorus-test"), ("AWS_SECRET_ACCESS_KEY", "chorus-test-secret"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    bucket = Bucket(f"chorus-{uuid.uuid4().hex[:12]}", s3_server, "chorus")
    bucket.client().create_bucket(Bucket=bucket.name)
    settings.MEDIA_ROOT = tmp_path / "media-cache"
    settings.OBJECT_STORAGE = {"bucket_name": bucket.name, "location": bucket.prefix, "endpoint_url": s3_server,
                               "region_name": "us-east-1", "public_endpoint_url": None, "presigned_seconds": 600}
    return bucket
