"""Running a personalised method (PAL, VPL) on a list of preference pairs, without Django."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from training.methods.common.contract import RunInputs


class RecordingHooks:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.points: list[tuple[int, dict]] = []

    def progress(self, fraction: float, *, stage: str) -> None:
        assert 0.0 <= fraction <= 1.0

    def metrics(self, step, values) -> None:  # type: ignore[no-untyped-def]
        self.points.append((step, dict(values)))

    def log(self, message: str) -> None:
        self.lines.append(message)

    def check_cancelled(self) -> None:
        pass


def run_method(method: ModuleType, folder: Path, base: Path, pairs: list, config: Any,
               hooks: RecordingHooks | None = None) -> tuple[Any, RecordingHooks]:
    """Trains `method` on `pairs` in `folder` (work/ and out/ inside); a folder used before resumes."""
    for sub in ("work", "out"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    data = folder / "preferences.jsonl"
    data.write_text("".join(json.dumps(asdict(p)) + "\n" for p in pairs))
    inputs = RunInputs(run_id=1, base_model=str(base), dataset={"preferences.jsonl": data, "users.jsonl": data},
                       work_dir=folder / "work", output_dir=folder / "out", device="cpu", bf16=False)
    hooks = hooks or RecordingHooks()
    return method.train(inputs, config, hooks), hooks
