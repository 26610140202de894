"""Trained models as Hugging Face Hub repositories: repo ids, revisions, commits and file listings.

A repo is every model one method trained towards one alignment-target name:
`chorus/<target slug>-<method>`, e.g. `chorus/toy-constitution-salmon` (a `training.ModelRepo`).
Its revisions are those models: `v<n>`, the number each took when it was published (numbers are
never reused, so after a deletion the others keep theirs and the deleted one's is simply gone);
`main`, the newest; and a commit id each, a 40-hex SHA-1 over the model's uuid and file manifest,
which never changes and never repeats.

The target slug is the name lowercased to ASCII letters, digits and single hyphens. Should two
target names slug alike, the first to publish a model keeps the plain slug and the others get
`-<8 hex of their exact name>`, so repo ids stay unique and an existing id never changes.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Min

from training.models import ModelArtifact, ModelRepo

HUB_NAMESPACE = "chorus"
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_VERSION_RE = re.compile(r"v([1-9][0-9]{0,8})")
_LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str

    @property
    def lfs_pointer(self) -> str:
        return _LFS_POINTER.format(sha256=self.sha256, size=self.size)

    @property
    def oid(self) -> str:
        """The git blob id of the file's LFS pointer, as the Hub reports for LFS files."""
        pointer = self.lfs_pointer.encode()
        return hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()


@dataclass(frozen=True)
class Revision:
    artifact: ModelArtifact
    commit: str

    @property
    def tag(self) -> str:
        return f"v{self.artifact.repo_number}"

    @property
    def files(self) -> list[HubFile]:
        return [HubFile(f["name"], int(f["size_bytes"]), f["sha256"]) for f in
                sorted(self.artifact.files, key=lambda f: f["name"])]

    def file(self, path: str) -> HubFile | None:
        return next((f for f in self.files if f.path == path), None)

    def storage_name(self, entry: HubFile) -> str:
        """The file's name in the bucket (its path under MEDIA_ROOT); from the manifest, never the request."""
        if entry.path.startswith("/") or ".." in entry.path.split("/"):
            raise ValueError(f"manifest entry {entry.path!r} of model {self.artifact.pk} leaves its folder")
        return f"{self.artifact.path}/{entry.path}"

    def local_path(self, entry: HubFile) -> Path:
        """Where the file is on disk; the name comes from the manifest, never from the request."""
        folder = (Path(settings.MEDIA_ROOT) / self.artifact.path).resolve()
        path = (folder / entry.path).resolve()
        if not path.is_relative_to(folder):
            raise ValueError(f"manifest entry {entry.path!r} of model {self.artifact.pk} leaves its folder")
        return path


@dataclass(frozen=True)
class HubRepo:
    repo_id: str
    revisions: list[Revision]  # oldest first

    def resolve(self, revision: str) -> Revision | None:
        if revision == "main":
            return self.revisions[-1]
        if match := _VERSION_RE.fullmatch(revision):
            return next((r for r in self.revisions if r.artifact.repo_number == int(match[1])), None)
        if COMMIT_RE.fullmatch(revision):
            return next((r for r in self.revisions if r.commit == revision), None)
        return None


def artifact_commit(artifact: ModelArtifact) -> str:
    manifest = "".join(f"{f['sha256']}  {f['name']}\n" for f in sorted(artifact.files, key=lambda f: f["name"]))
    return hashlib.sha1(f"chorus model {artifact.uuid}\n{manifest}".encode()).hexdigest()


def target_slugs() -> dict[str, str]:
    """Target name -> its slug, for every target name that has published a model (one query). Names
    keep their claim in the order of their first repo, even if every model in it is deleted."""
    firsts = (ModelRepo.objects.values("target_name").annotate(first=Min("pk")).order_by("first")
              .values_list("target_name", flat=True))
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in firsts:
        slug = _slugify(name)
        if slug in taken:
            slug = f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
        taken.add(slug)
        slugs[name] = slug
    return slugs


def _slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:60].strip("-") or "target"


def hub_repo_id(artifact: ModelArtifact, *, slugs: dict[str, str] | None = None) -> str:
    """The repo id that serves `artifact` (pass `slugs` from target_slugs() when naming many)."""
    slug = (slugs if slugs is not None else target_slugs())[artifact.target.name]
    return f"{HUB_NAMESPACE}/{slug}-{artifact.method}"


def repo_find(namespace: str, name: str) -> HubRepo | None:
    slug, dash, method = name.rpartition("-")
    if namespace != HUB_NAMESPACE or not dash:
        return None
    target_name = next((n for n, s in target_slugs().items() if s == slug), None)
    if target_name is None:
        return None
    artifacts = (ModelArtifact.objects.filter(repo__target_name=target_name, repo__method=method)
                 .select_related("target").defer("model_card").order_by("repo_number"))
    revisions = [Revision(a, artifact_commit(a)) for a in artifacts]
    return HubRepo(f"{namespace}/{name}", revisions) if revisions else None


def artifact_revision(artifact: ModelArtifact) -> Revision:
    """The revision (`vN` and commit) under which `artifact` is served."""
    return Revision(artifact, artifact_commit(artifact))


def tree_entries(revision: Revision, path: str, *, recursive: bool) -> list[dict] | None:
    """The Hub's tree listing under `path` ("" for the root); None if nothing is there."""
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    folders: set[str] = set()
    files: list[dict] = []
    for entry in revision.files:
        if not entry.path.startswith(prefix):
            continue
        parts = entry.path[len(prefix):].split("/")
        folders.update(prefix + "/".join(parts[:depth]) for depth in range(1, len(parts)) if recursive or depth == 1)
        if recursive or len(parts) == 1:
            files.append({"type": "file", "path": entry.path, "size": entry.size, "oid": entry.oid,
                          "lfs": {"oid": entry.sha256, "size": entry.size, "pointerSize": len(entry.lfs_pointer)}})
    if prefix and not (files or folders):
        return None
    return [{"type": "directory", "path": f, "oid": _folder_oid(revision.commit, f)} for f in sorted(folders)] + files


def _folder_oid(commit: str, folder: str) -> str:
    return hashlib.sha1(f"{commit} {folder}".encode()).hexdigest()
