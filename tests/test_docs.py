"""The README and docs/ name things the code has: files, environment variables, bench flags, URLs and
manage.py commands. Each check reads the docs as text, so a rename in the code that leaves a doc
behind fails here."""
from __future__ import annotations

import re
from pathlib import Path

from django.core.management import get_commands
from django.urls import Resolver404, resolve

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bench" / "gpu" / "README.md"]
CODE_DIRS = ("platform", "elicitation", "training", "gpu_workers", "bench", "templates", "tests/support", ".ci")


def _docs_text() -> dict[Path, str]:
    return {path: path.read_text() for path in DOCS}


def _code_text() -> str:
    files = [p for d in CODE_DIRS for p in (REPO / d).rglob("*") if p.suffix in (".py", ".sh", ".html", "")]
    files += [REPO / "docker-compose.yml", REPO / "manage.py"]
    return "\n".join(p.read_text(errors="replace") for p in files if p.is_file())


def test_the_docs_are_there():
    assert len(DOCS) == 7 and all(p.is_file() for p in DOCS), DOCS


# A path from the repository root, in backticks or after "bench/" in prose: `training/configs.py`,
# bench/fsdp_gpu.py. Folders end in "/".
REPO_PATH = re.compile(r"(?<![\w./-])((?:platform|elicitation|training|gpu_workers|bench|tests|templates|docs)/"
                       r"[\w./-]*[\w/])")


def test_every_repository_path_named_exists():
    missing = []
    for doc, text in _docs_text().items():
        for path in sorted(set(REPO_PATH.findall(text))):
            path = path.split("::")[0]
            if "<" in path or "*" in path or path.startswith("training/uploads"):  # a pattern, or a storage key
                continue
            if path.startswith(("training/targets/", "training/models/", "training/runs/")):  # storage keys
                continue
            if not (REPO / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert missing == []


def test_every_bench_in_the_readme_table_exists():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Benchmarks"):]
    named = set(re.findall(r"`(\w+\.py)`", table))
    assert len(named) >= 15, named
    assert sorted(n for n in named if not (REPO / "bench" / n).is_file()) == []


ENV_VAR = re.compile(r"\b((?:CHORUS|DJANGO)_[A-Z0-9_]*[A-Z0-9])\b")
SETTINGS_READ = re.compile(r"""env\.\w+\(\s*["']((?:CHORUS|DJANGO)_[A-Z0-9_]+)["']""")


def test_every_documented_variable_is_read_by_the_code():
    code = _code_text()
    unread = sorted({f"{doc.name}: {name}" for doc, text in _docs_text().items() for name in ENV_VAR.findall(text)
                     if not re.search(rf"\b{name}\b", code)})
    assert unread == []


def test_every_setting_read_from_the_environment_is_documented():
    settings = "\n".join(p.read_text() for p in (REPO / "platform" / "chorus" / "settings").glob("*.py"))
    read = set(SETTINGS_READ.findall(settings))
    assert len(read) >= 20, read  # the scan itself works
    documented = (REPO / "README.md").read_text() + (REPO / "docs" / "deployment.md").read_text()
    assert sorted(name for name in read if name not in documented) == []


BENCH_NAMED = re.compile(r"(?:bench/|`)(\w+\.py)\b")
FLAG = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")
ARGUMENT = re.compile(r"""add_argument\(\s*["'](--[\w-]+)["']""")


def _bench_flags(name: str) -> set[str]:
    text = (REPO / "bench" / name).read_text()
    flags = set(ARGUMENT.findall(text))
    if "real_text" in text:  # the real-text benches share these flags
        flags |= set(ARGUMENT.findall((REPO / "bench" / "real_text.py").read_text()))
    return flags


def test_every_bench_flag_named_beside_a_bench_exists():
    """A line of the docs that names bench scripts only names flags one of them takes."""
    wrong, seen = [], 0
    for doc, text in _docs_text().items():
        for line in text.splitlines():
            benches = {n for n in BENCH_NAMED.findall(line) if (REPO / "bench" / n).is_file()}
            if not benches or "manage.py" in line:
                continue
            known = set().union(*(_bench_flags(n) for n in benches))
            for flag in FLAG.findall(line):
                seen += 1
                if flag not in known:
                    wrong.append(f"{doc.name}: {flag} for {sorted(benches)}")
    assert seen >= 10  # the scan itself works
    assert wrong == []


URL = re.compile(r"(?<![\w.])(/(?:api/v1|dashboard|c|join|hf|login|admin)/[\w/<>.-]*)")


def test_every_documented_url_resolves():
    unresolved, seen = [], 0
    for doc, text in _docs_text().items():
        for url in sorted(set(URL.findall(text)) - {"/hf/"}):  # /hf/ is the Hub endpoints' prefix only
            concrete = re.sub(r"<[^>]+>", "1", url.replace("<repo>", "chorus/repo"))
            seen += 1
            try:
                resolve(concrete)
            except Resolver404:
                unresolved.append(f"{doc.name}: {url}")
    assert seen >= 20
    assert unresolved == []


COMMAND = re.compile(r"manage\.py ([a-z_]+)")


def test_every_manage_py_command_named_exists():
    commands = set(get_commands())
    named = {name for text in _docs_text().values() for name in COMMAND.findall(text)}
    assert {"import_preferences", "prepare_models", "check_services"} <= named
    assert sorted(named - commands) == []


def test_the_readme_names_no_path_beside_the_clone():
    assert "../shared" not in (REPO / "README.md").read_text()
