"""The code's shape: background work is queued by registered task name, and no project module imports
itself back through others (at module level or inside a function)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"elicitation": REPO / "elicitation", "training": REPO / "training", "gpu_workers": REPO / "gpu_workers",
            "chorus": REPO / "platform" / "chorus"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that `name` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_no_project_module_imports_itself_back():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # A package's __init__ re-exporting its own modules (elicitation.models) is how Django finds models.
    graph = {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


DISPATCH = re.compile(r"""(?:dispatch_on_commit|dispatch|send_task)\(\s*["']([\w.]+)["']""")
TASK_CONSTANT = re.compile(r"""^\w+_TASK\s*=\s*["']([\w.]+)["']""", re.M)


def test_every_dispatched_name_is_a_registered_task():
    from chorus.celery import app

    app.loader.import_default_modules()
    names = set()
    for path in _modules().values():
        text = path.read_text()
        names |= set(DISPATCH.findall(text)) | set(TASK_CONSTANT.findall(text))
    assert len(names) >= 6, names  # the scan itself works: services queue at least this many tasks
    assert sorted(names - set(app.tasks)) == []


@pytest.mark.parametrize("module", ["elicitation.services.interviews", "elicitation.services.values",
                                    "elicitation.services.moral_graph", "elicitation.services.constitutions",
                                    "chorus.dashboard.services", "training.services.runs"])
def test_services_do_not_import_tasks(module):
    modules = _modules()
    assert not {m for m in _imports(module, modules[module], modules) if m.endswith(".tasks")}
