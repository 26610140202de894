"""What a training method receives from the run machinery, and what it gives back. No Django here.

A method is a module of training/methods/ whose name is listed in `training.methods.METHODS`, and
that defines:

    Config         a dataclass; every field has a default and `metadata["help"]`, and may carry
                   `min`, `max` or `choices` (the values allowed) in its metadata, which
                   training/configs.py checks on every config it validates;
                   `Config.tiny()` is the CPU configuration the test suite trains in seconds
    TARGET_KINDS   the alignment-target kinds it trains from, e.g. ("constitution",)
    REQUIRED_FILES the target dataset files it reads, each with at least one row
    MIN_PEOPLE     the fewest people (rows of users.jsonl) a target must hold; 0 where it has none
    MODEL_CARD     markdown for the model card: what the model does, how to use it, its limits
    USAGE          Python that loads the model from the folder named by a variable `path` and
                   prints one score; the model page shows it, and each method's tests run it
    OOM_HINT       what a curator can change when a run of this method runs out of memory,
                   naming the method's own settings; the executor adds it to the failure reason
    DATA_PARALLEL  True: it trains in several processes under torchrun, sharing its work out and
                   writing (hooks, checkpoints, the model) from rank 0 only (distributed.py)
    train(inputs, config, hooks) -> RunResult
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class RunCancelled(Exception):
    """Raised by `Hooks.check_cancelled()` once a curator has cancelled the run."""


class TrainingDiverged(RuntimeError):
    """The training loss stopped being a number: the weights are lost, so the run fails with this
    reason rather than publish a model that scores nothing."""


def check_finite(loss: Any, *, step: int, learning_rate: float) -> None:
    """Raises TrainingDiverged when `loss` (a number or a one-element tensor) is NaN or infinite."""
    value = float(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(f"The training loss became {value} at step {step}: training diverged and nothing was "
                               f"published. Lower learning_rate (it was {learning_rate:g}) and start the run again.")


@dataclass(frozen=True)
class PolicyServer:
    """An OpenAI-compatible server (vLLM's `vllm serve`, llama.cpp's server) that many workers share
    to write and judge responses instead of each loading the policy model."""

    base_url: str = field(metadata={"help": "Its API root, e.g. http://vllm:8000/v1."})
    model: str = field(default="", metadata={"help": "The model to ask for; empty: the one model it serves."})
    api_key: str = field(default="", metadata={"help": "Sent as the bearer token; local servers ignore it."})
    max_in_flight: int = field(default=8, metadata={"help": "Requests one worker keeps open at once."})


@dataclass(frozen=True)
class RunInputs:
    run_id: int
    base_model: str = field(metadata={"help": "A folder holding a Hugging Face model (save_pretrained)."})
    dataset: Mapping[str, Path] = field(metadata={"help": "The target's frozen JSONL files, by file name."})
    work_dir: Path = field(metadata={"help": "Kept across worker crashes: checkpoints, intermediate data."})
    output_dir: Path = field(metadata={"help": "Where the final model goes; the machinery publishes it."})
    device: str = field(metadata={"help": "'cuda' or 'cpu'."})
    bf16: bool = field(metadata={"help": "Train in bfloat16 mixed precision (CUDA cards that support it)."})
    policy_server: PolicyServer | None = field(default=None, metadata={
        "help": "The OpenAI-compatible server this worker is configured with (CHORUS_POLICY_*), for methods "
                "whose config asks for policy_backend 'openai'; None when the worker has none."})


class Hooks(Protocol):
    """How a method reports back. Cheap to call often: the machinery throttles database writes."""

    def progress(self, fraction: float, *, stage: str) -> None: ...

    def metrics(self, step: int, values: Mapping[str, float]) -> None: ...

    def log(self, message: str) -> None: ...

    def check_cancelled(self) -> None:
        """Raise RunCancelled if the run was cancelled; call it between units of work."""


@dataclass(frozen=True)
class RunResult:
    metrics: Mapping[str, float]
    summary: Mapping[str, Any] = field(default_factory=dict)  # counts worth showing, e.g. examples kept


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest `checkpoint-<step>` folder that finished saving, or None.

    transformers writes trainer_state.json last, so a checkpoint cut short by a crash lacks it and
    is skipped. Methods keep checkpoints in `work_dir / "checkpoints"`; the reaper looks there to
    decide whether a run whose worker died can resume."""
    if not folder.is_dir():
        return None
    done = [d for d in folder.glob("checkpoint-*") if (d / "trainer_state.json").is_file()]
    return str(max(done, key=lambda d: int(d.name.split("-")[1]))) if done else None
