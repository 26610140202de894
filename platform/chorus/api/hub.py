"""Hugging Face Hub-compatible endpoints, mounted at /hf/, so that

    huggingface_hub.snapshot_download("chorus/<target>-<method>", endpoint=f"{CHORUS}/hf", token=TOKEN)

downloads a trained model (repo ids and revisions: hub_repos.py). The client calls model info
(to turn a branch or tag into a commit), the tree listing, then HEAD and GET on each file's
`resolve` URL. Errors take the Hub's shape, `{"error": "..."}` with an `X-Error-Code` header
(RepoNotFound, RevisionNotFound, EntryNotFound), which the client turns into its own exceptions;
a token without read:models gets 403 and never learns whether a repo exists.
"""
from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import get_script_prefix, reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from chorus.api.hub_repos import HubRepo, Revision, artifact_revision, hub_repo_id, repo_find, tree_entries
from chorus.api.throttling import throttle_unauthenticated
from training import object_store

CHUNK = 1 << 20
TREE_PAGE_SIZE = 1000  # entries per tree page, as on the Hub; the client follows the Link header to the next
_RANGE_RE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


log = logging.getLogger(__name__)

class HubError(Exception):
    def __init__(self, status: int, message: str, code: str = "", commit: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit

    def response(self) -> JsonResponse:
        response = JsonResponse({"error": self.message}, status=self.status)
        response["X-Error-Message"] = self.message
        if self.code:
            response["X-Error-Code"] = self.code
        if self.commit:  # the client caches "this file is not in that commit"
            response["X-Repo-Commit"] = self.commit
        return response


class HubApiView(APIView):
    required_scopes = (Scope.READ_MODELS,)

    def handle_exception(self, exc):
        exc = throttle_unauthenticated(exc, self.request, self)
        if isinstance(exc, HubError):
            return exc.response()
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            # The Hub's wording for a bad token; the client shows it instead of "repository not found".
            message = ("Invalid credentials in Authorization header" if isinstance(exc, exceptions.AuthenticationFailed)
                       else "Authorization required: send a Chorus API token with the read:models scope.")
            response = HubError(401, message).response()
            response["WWW-Authenticate"] = 'Bearer realm="chorus"'
            return response
        if isinstance(exc, exceptions.Throttled):
            response = HubError(429, str(exc.detail)).response()
            if exc.wait is not None:
                response["Retry-After"] = str(int(exc.wait) + 1)
            return response
        if isinstance(exc, exceptions.APIException):
            return HubError(exc.status_code, str(exc.detail)).response()
        return super().handle_exception(exc)


def _repo(namespace: str, name: str) -> HubRepo:
    repo = repo_find(namespace, name)
    if repo is None:
        raise HubError(404, "Repository not found", "RepoNotFound")
    return repo


def _revision(namespace: str, name: str, revision: str) -> Revision:
    return _resolved(_repo(namespace, name), revision)


def _resolved(repo: HubRepo, revision: str) -> Revision:
    found = repo.resolve(revision)
    if found is None:
        raise HubError(404, "Invalid rev id: the revision is not main, v<n> or a commit of this repository",
                       "RevisionNotFound")
    return found


# --- OpenAPI descriptions ----------------------------------------------------------------------

class HubErrorOutput(serializers.Serializer):
    error = serializers.CharField()


_ERRORS = {
    401: OpenApiResponse(HubErrorOutput, description="no token, or an invalid one"),
    403: OpenApiResponse(HubErrorOutput, description="the token lacks read:models"),
    404: OpenApiResponse(HubErrorOutput, description="X-Error-Code: RepoNotFound, RevisionNotFound or EntryNotFound"),
}


class HubSiblingLfsOutput(serializers.Serializer):
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    pointerSize = serializers.IntegerField()


class HubSiblingOutput(serializers.Serializer):
    rfilename = serializers.CharField()
    size = serializers.IntegerField()
    blobId = serializers.CharField()
    lfs = HubSiblingLfsOutput()


class HubChorusOutput(serializers.Serializer):
    model = serializers.IntegerField(help_text="id under /api/v1/models/")
    revision = serializers.CharField(help_text="v<n>")
    target = serializers.CharField()
    method = serializers.CharField()


class HubModelInfoOutput(serializers.Serializer):
    id = serializers.CharField()
    modelId = serializers.CharField()
    author = serializers.CharField()
    sha = serializers.CharField(help_text="the revision's 40-hex commit id")
    lastModified = serializers.DateTimeField()
    createdAt = serializers.DateTimeField()
    private = serializers.BooleanField()
    gated = serializers.BooleanField()
    disabled = serializers.BooleanField()
    library_name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    siblings = HubSiblingOutput(many=True)
    chorus = HubChorusOutput()


class HubLfsOutput(serializers.Serializer):
    oid = serializers.CharField(help_text="sha256 of the file")
    size = serializers.IntegerField()
    pointerSize = serializers.IntegerField()


class HubTreeEntryOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["file", "directory"])
    path = serializers.CharField()
    oid = serializers.CharField()
    size = serializers.IntegerField(required=False)
    lfs = HubLfsOutput(required=False)


class HubRefOutput(serializers.Serializer):
    name = serializers.CharField()
    ref = serializers.CharField()
    targetCommit = serializers.CharField()


class HubRefsOutput(serializers.Serializer):
    branches = HubRefOutput(many=True)
    tags = HubRefOutput(many=True)
    converts = HubRefOutput(many=True)
    pullRequests = HubRefOutput(many=True)


def _path_param(name: str, description: str, example: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.PATH, description=description,
                            examples=[OpenApiExample(example, value=example)])


_REPO_PARAMS = [_path_param("namespace", "always `chorus`", "chorus"),
                _path_param("name", "`<target slug>-<method>`", "toy-constitution-salmon")]
_REVISION_PARAM = _path_param("revision", "`main`, `v<n>` or a 40-hex commit id", "main")


class TreeQuery(serializers.Serializer):
    recursive = serializers.BooleanField(default=False)
    expand = serializers.BooleanField(default=False, help_text="accepted for the client's sake; changes nothing")
    cursor = serializers.IntegerField(default=0, min_value=0,
                                      help_text="where the page starts; take it from the previous page's Link header")


# --- views ---------------------------------------------------------------------------------------


class HubModelInfoApi(HubApiView):
    """What `HfApi.model_info` / `repo_info` read: the commit a revision points to, and its files."""

    @extend_schema(tags=["hub"], parameters=_REPO_PARAMS, responses={200: HubModelInfoOutput, **_ERRORS})
    def get(self, request, namespace: str, name: str, revision: str = "main"):
        repo = _repo(namespace, name)
        found = _resolved(repo, revision)
        artifact = found.artifact
        siblings = [{"rfilename": f.path, "size": f.size, "blobId": f.oid,
                     "lfs": {"sha256": f.sha256, "size": f.size, "pointerSize": len(f.lfs_pointer)}}
                    for f in found.files]
        return JsonResponse({
            "_id": found.commit[:24], "id": f"{namespace}/{name}", "modelId": f"{namespace}/{name}",
            "author": namespace, "sha": found.commit, "lastModified": _hub_time(artifact.created_at),
            "createdAt": _hub_time(repo.revisions[0].artifact.created_at),
            "private": True, "gated": False, "disabled": False, "library_name": "transformers",
            "tags": ["chorus", artifact.method, "transformers"], "siblings": siblings,
            "chorus": {"model": artifact.pk, "revision": found.tag, "target": str(artifact.target),
                       "method": artifact.method},
        })


def _hub_time(moment: datetime) -> str:
    """The Hub's timestamps: UTC, milliseconds, `Z` (the client parses no other form)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HubModelInfoRevisionApi(HubModelInfoApi):
    """Model info at a revision."""

    @extend_schema(tags=["hub"], parameters=[*_REPO_PARAMS, _REVISION_PARAM],
                   responses={200: HubModelInfoOutput, **_ERRORS})
    def get(self, request, namespace: str, name: str, revision: str = "main"):
        return super().get(request, namespace, name, revision)


class HubTreeApi(HubApiView):
    """What `HfApi.list_repo_tree` reads: files (as LFS files, with their sha256) and folders, a page
    at a time. If there is more, `Link: <url>; rel="next"` gives the next page, pinned to the commit
    the first page came from, so a model published meanwhile cannot mix two models' listings."""

    @extend_schema(tags=["hub"], parameters=[*_REPO_PARAMS, _REVISION_PARAM, TreeQuery],
                   responses={200: HubTreeEntryOutput(many=True), 400: HubErrorOutput, **_ERRORS})
    def get(self, request, namespace: str, name: str, revision: str, path: str = ""):
        query = TreeQuery(data=request.query_params)
        if not query.is_valid():
            raise HubError(400, f"Invalid query parameter: {', '.join(query.errors)}")
        found = _revision(namespace, name, revision)
        entries = tree_entries(found, path, recursive=query.validated_data["recursive"])
        if entries is None:
            raise HubError(404, "Entry not found", "EntryNotFound", found.commit)
        start = query.validated_data["cursor"]
        end = start + TREE_PAGE_SIZE
        response = JsonResponse(entries[start:end], safe=False)
        if end < len(entries):
            response["Link"] = f'<{_tree_page_url(request, namespace, name, found.commit, path, end)}>; rel="next"'
        return response


def _tree_page_url(request, namespace: str, name: str, commit: str, path: str, cursor: int) -> str:
    kwargs = {"namespace": namespace, "name": name, "revision": commit, **({"path": path} if path else {})}
    query = request.GET.copy()
    query["cursor"] = str(cursor)
    return request.build_absolute_uri(f"{reverse('hub:tree-path' if path else 'hub:tree', kwargs=kwargs)}?"
                                      f"{query.urlencode()}")


class HubTreePathApi(HubTreeApi):
    """The tree listing under one folder."""

    @extend_schema(operation_id="hf_api_models_tree_path_list", tags=["hub"], parameters=[
        *_REPO_PARAMS, _REVISION_PARAM, _path_param("path", "a folder of the repo", "eval"), TreeQuery],
                   responses={200: HubTreeEntryOutput(many=True), 400: HubErrorOutput, **_ERRORS})
    def get(self, request, namespace: str, name: str, revision: str, path: str = ""):
        return super().get(request, namespace, name, revision, path)


class HubRefsApi(HubApiView):
    """What `HfApi.list_repo_refs` reads: `main` and one tag per model, `v1`, `v2`, ..."""

    @extend_schema(tags=["hub"], parameters=_REPO_PARAMS, responses={200: HubRefsOutput, **_ERRORS})
    def get(self, request, namespace: str, name: str):
        repo = _repo(namespace, name)
        main = repo.resolve("main")
        return JsonResponse({
            "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": main.commit}],
            "tags": [{"name": r.tag, "ref": f"refs/tags/{r.tag}", "targetCommit": r.commit} for r in repo.revisions],
            "converts": [], "pullRequests": [],
        })


class HubResolveApi(HubApiView):
    """One file of a revision. HEAD gives what `hf_hub_download` checks first (X-Repo-Commit, ETag =
    the file's sha256, Content-Length); GET streams it, or one byte range of it (206) to resume. With
    a bucket (CHORUS_STORAGE_URL=s3://...), both answer 302 to a presigned URL of the object instead,
    as the Hub does for LFS files; the bucket serves ranges itself."""

    @extend_schema(
        tags=["hub"],
        parameters=[*_REPO_PARAMS, _REVISION_PARAM, _path_param("filename", "a file of the revision", "config.json"),
                    OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="`bytes=<start>-<end>`")],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                   (206, "application/octet-stream"): OpenApiTypes.BINARY,
                   (416, "application/octet-stream"): OpenApiResponse(description="the range starts past the end"),
                   **_ERRORS},
    )
    def get(self, request, namespace: str, name: str, revision: str, filename: str):
        found = _revision(namespace, name, revision)
        entry = found.file(filename)
        if entry is None:
            raise HubError(404, "Entry not found", "EntryNotFound", found.commit)
        if object_store.enabled():
            response = _redirect_to_bucket(found, entry)
        else:
            response = _local_file(request, found, entry)
        response["X-Repo-Commit"] = found.commit
        response["ETag"] = f'"{entry.sha256}"'
        response["Accept-Ranges"] = "bytes"
        response["Content-Disposition"] = f'attachment; filename="{entry.path.rsplit("/", 1)[-1]}"'
        return response


def _redirect_to_bucket(found: Revision, entry) -> HttpResponse:
    """As the Hub does for LFS files: 302 to a presigned URL of the object, with the file's size and
    sha256 in X-Linked-Size and X-Linked-Etag (the client reads them from this response, since it does
    not follow a redirect to another host on HEAD, and sends no token there)."""
    response = HttpResponse(status=302, content_type="application/octet-stream")
    response["Location"] = object_store.presigned_url(found.storage_name(entry), filename=entry.path.rsplit("/", 1)[-1])
    response["X-Linked-Size"] = str(entry.size)
    response["X-Linked-Etag"] = f'"{entry.sha256}"'
    return response


def _local_file(request, found: Revision, entry) -> HttpResponse:
    local = found.local_path(entry)
    if not local.is_file():
        # The manifest names a file the store lost: say so in the Hub's shape, and log it loudly.
        log.error("model file missing from storage", extra={"commit": found.commit, "file": entry.path})
        raise HubError(404, "Entry missing from storage", "EntryNotFound", found.commit)
    if request.method == "HEAD":
        response = HttpResponse(content_type="application/octet-stream")
        response["Content-Length"] = str(entry.size)
        return response
    return _file_response(request, local, entry.size, etag=f'"{entry.sha256}"')


def _file_response(request, path, size: int, *, etag: str) -> HttpResponse:
    """The whole file (sendfile where the server can), or the one range asked for; never all in memory."""
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    try:
        span = _byte_range(wanted, size) if wanted and (if_range is None or if_range == etag) else None
    except _Unsatisfiable:
        response = HttpResponse(status=416, content_type="application/octet-stream")
        response["Content-Range"] = f"bytes */{size}"
        return response
    if span is None:
        return FileResponse(open(path, "rb"), content_type="application/octet-stream")
    start, end = span
    response = StreamingHttpResponse(_FileRange(path, start, end - start + 1), status=206,
                                     content_type="application/octet-stream")
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    return response


class _Unsatisfiable(Exception):
    pass


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range, or None to send the whole file: a malformed or
    multi-part range may be ignored (RFC 9110, 14.2). A range past the end is unsatisfiable."""
    match = _RANGE_RE.fullmatch(header.strip())
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:  # the last N bytes
        suffix = int(match[2])
        if not suffix or not size:
            raise _Unsatisfiable
        return max(size - suffix, 0), size - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if match[2] and end < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, min(end, size - 1)


class _FileRange:
    """Streams `length` bytes from `start`; the response closes the file even if never iterated."""

    def __init__(self, path, start: int, length: int) -> None:
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = length

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        block = self._file.read(min(CHUNK, self._left)) if self._left > 0 else b""
        if not block:
            raise StopIteration
        self._left -= len(block)
        return block

    def close(self) -> None:
        self._file.close()


# --- the dashboard's download snippet -----------------------------------------------------------


def hub_snippet_context(artifact, *, request) -> dict:
    """What templates/api/_download_snippet.html needs for one model."""
    found = artifact_revision(artifact)
    return {"hub_endpoint": request.build_absolute_uri(f"{get_script_prefix()}hf"),
            "hub_repo_id": hub_repo_id(artifact), "hub_revision": found.tag, "hub_commit": found.commit}

